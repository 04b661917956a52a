// pacote ships no type declarations; this covers the one call facestream makes.
declare module 'pacote' {
  export function tarball(spec: string, options?: Record<string, unknown>): Promise<Buffer & { integrity: string }>;
}
