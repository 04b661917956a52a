/**
 * The layers of src/ (DESIGN.md, "Layers"), enforced: `npm run lint` fails on an import that
 * points up, on a cycle, on src/ reaching into test/ or bench/, and on the browser client
 * importing server code that is more than types.
 *
 * Bottom to top; a folder may import its own files and every layer below it, nothing above:
 *
 *   common/                      stage contracts, errors, the shared slot pool
 *   contract/                    the REST contract: zod schemas of every route, the route table
 *   models/                      manifest, fetch, sha256, weight readers, the TensorFlow.js runtime
 *   storage/                     repositories and the database
 *   ingest/                      the ffmpeg toolkit: arguments, probe, camera process, frame reading
 *   detection/ embedding/        MTCNN; alignment, embedders, face quality (embedding may use detection)
 *   tracking/ recognition/ events/   tracker and vote; matchers and enrolment; the event state machine
 *   config/                      the validated settings of every part below
 *   pipeline/                    per-camera scheduling over the workers, metrics
 *   cameras/                     the camera registry: validation, start/stop, status
 *   cluster/                     cluster mode: heartbeats, camera leases and placement over Redis, changes between nodes
 *   services/                    orchestration the interfaces call: gallery, events and review
 *   integrations/                the ways out to other systems (MQTT, Home Assistant discovery, webhooks), fed by the services
 *   server/                      the HTTP interface: REST routes, Socket.IO namespaces, pages
 *   app/                         the composition root: builds every part, the HTTP one included
 *   cli/                         the command line: starts the composition root, or uses the parts directly
 *
 * Where config/ sits: it is the schema of the whole application, so it may read the rules of
 * the parts whose settings it validates (the camera URLs ingest/ accepts, the embedder ids that
 * embedding/ can build); the parts below it take plain options and never the schema. pipeline/
 * and everything above it read the config.
 *
 * Peers in one row do not import each other, except where named below (`peerExceptions`).
 */

/** Bottom to top. Each row is one rank; a folder may import the ranks below its own. */
const LAYERS = [
  { folders: ['common', 'types'], why: 'the contracts everything shares: they depend on nothing of ours' },
  { folders: ['contract'], why: 'the REST shapes are built on the stage contracts; routers, services and the client read them' },
  { folders: ['models'], why: 'weights and runtimes know nothing of what is built from them' },
  { folders: ['storage'], why: 'repositories store the contracts; they call no stage' },
  { folders: ['ingest'], why: 'the ffmpeg toolkit hands frames up; it never calls who consumes them' },
  { folders: ['detection', 'embedding'], why: 'the vision models are built from models/, used by recognition and the pipeline' },
  { folders: ['tracking', 'recognition', 'events'], why: 'stages that take detections and embeddings; the pipeline schedules them' },
  { folders: ['config'], why: 'it validates the settings of the parts below; only the pipeline and above read it' },
  { folders: ['pipeline'], why: 'per-camera scheduling of the stages; the registry above starts and stops it' },
  { folders: ['cameras'], why: 'the camera registry drives pipelines; services and interfaces drive the registry' },
  { folders: ['cluster'], why: 'the nodes of a cluster decide which cameras of the registry run where; the services report it, the composition root starts it' },
  { folders: ['services'], why: 'orchestration is called by the interfaces, never the reverse' },
  { folders: ['integrations'], why: 'MQTT and webhooks carry what the services announce to other systems; the HTTP interface shows their state, the composition root wires them' },
  { folders: ['server'], why: 'the HTTP interface serves the services; the composition root builds and starts it' },
  { folders: ['app'], why: 'the composition root builds every part below; only the command line starts it' },
  { folders: ['cli'], why: 'the command line is the top: nothing imports it' },
];

/** Imports allowed between peers of one row, each with its reason. */
const peerExceptions = {
  // the analyzer runs MTCNN and then embeds what it found
  embedding: ['detection'],
  // an event carries the track's voted identity
  events: ['tracking'],
};

const layerRules = LAYERS.flatMap((layer, rank) => {
  const below = LAYERS.slice(0, rank).flatMap((l) => l.folders);
  return layer.folders.map((folder) => {
    const allowed = [folder, ...below, ...(peerExceptions[folder] ?? [])];
    return {
      name: `${folder}-points-down`,
      comment: `${folder}/ may import only ${allowed.filter((f) => f !== folder && f !== 'types').join(', ') || 'itself'}: ${layer.why}`,
      severity: 'error',
      from: { path: `^src/${folder}/` },
      to: { path: '^src/', pathNot: `^src/(${allowed.join('|')})/` },
    };
  });
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'src-not-to-test-or-bench',
      comment: 'the shipped code must run without the tests and the benchmarks: their plumbing stays in test/support/ and bench/',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'a cycle has no bottom: one of its imports points up; move the shared part down',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'client-only-server-types',
      comment: 'the browser loads only its own bundle: from the server it may take types (erased at build), never code',
      severity: 'error',
      from: { path: '^client/' },
      to: { path: '^src/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      comment:
        'an import that cannot be resolved cannot be checked either; the exceptions: ffmpeg-installer is optional (a fallback ' +
        'loaded when present), /socket.io/ is the bundle the server serves to the browser',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^(@ffmpeg-installer/ffmpeg|/socket[.]io/.*)$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    // type-only imports count: a type imported from above ties a layer to it as much as a value does
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
