// ESLint for the TypeScript of the server, the benchmarks, the tests and the browser client
// (`npm run lint`): typescript-eslint's strict, type-checked rules. Formatting is Prettier's
// (.prettierrc.json), so no formatting rule is enabled here.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'models/cache/', 'data/'] },
  {
    // the few plain JavaScript files (this one, bin/facestream.js, .dependency-cruiser.cjs)
    files: ['**/*.{js,cjs,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { process: 'readonly', module: 'writable', require: 'readonly', console: 'readonly' } },
  },
  {
    files: ['src/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'client/src/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.strictTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      // Each file is checked with the tsconfig.json nearest to it: client/tsconfig.json for
      // client/src (DOM, bundler resolution), the root one for src, test and bench.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and booleans read well in a message (`${faces} faces`, `simd ${simd}`); objects,
      // arrays, null and undefined would not, and stay errors.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // The promise node:test's test() and describe() return is the runner's own: it waits for
      // the test and reports its failure, so a test file need not await it.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      // An empty string is as good as none where strings are read (a variable set to nothing in
      // the environment, an empty form field), so `value || fallback` stays for strings.
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { string: true } }],
      // A caught value passed on as it is (`catch (error) { reject(error); }`) is unknown by type;
      // the rule still reports rejecting with a value known not to be an Error. Same default as
      // only-throw-error's.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `(x) => socket.emit(x)` is plainly a callback for its effect; returning a void value from
      // a block body or using one as a value (`const x = voidCall()`) is still reported.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
);
