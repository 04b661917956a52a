/**
 * The REST API described as OpenAPI 3.1, served at /api/openapi.json. Kept beside the routes;
 * a test checks that every route the server answers is listed here.
 */

const error = { description: 'The problem, in words', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const idParam = (name: string, description: string, type: 'string' | 'integer' = 'string') => ({ name, in: 'path', required: true, description, schema: { type } });

const eventFilters = [
  { name: 'person', in: 'query', schema: { type: 'string' }, description: 'Name as shown (after review)' },
  { name: 'camera', in: 'query', schema: { type: 'string' } },
  { name: 'known', in: 'query', schema: { type: 'boolean' } },
  { name: 'review', in: 'query', schema: { enum: ['pending', 'confirmed', 'rejected', 'relabeled'] } },
  { name: 'from', in: 'query', schema: { type: 'string' }, description: 'ISO 8601 or ms since 1970, inclusive; years 1970 to 9999' },
  { name: 'to', in: 'query', schema: { type: 'string' }, description: 'Like from' },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'nextCursor of the previous page, exactly as given (any other value is a 400)' },
];

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'facestream',
    version: '0.1.0',
    description:
      'Real-time face recognition for video streams. With a login (an admin password or an account), every route but /api/health and /api/login needs the session cookie from /api/login or `Authorization: Bearer <token>`; changes need the admin role. Browser requests that change something must come from this server\'s own page (or server.allowedOrigins), and the Host header must be one of its names (server.allowedHosts).',
  },
  paths: {
    '/api/health': { get: { summary: 'Liveness and backend', responses: { 200: json({ type: 'object' }) } } },
    '/api/openapi.json': { get: { summary: 'This document', responses: { 200: json({ type: 'object' }) } } },
    '/api/metrics': { get: { summary: 'Per-camera metrics in Prometheus text format', responses: { 200: { description: 'text/plain; version=0.0.4' } } } },
    '/api/login': {
      post: {
        summary: 'Log in with an account (name "admin" and the admin password, or one from POST /api/users): sets an httpOnly, SameSite=Strict session cookie',
        requestBody: { content: { 'application/json': { schema: { type: 'object', required: ['password'], properties: { name: { type: 'string', default: 'admin' }, password: { type: 'string' } } } } } },
        responses: { 200: json({ type: 'object', properties: { ok: { type: 'boolean' }, name: { type: 'string' }, role: ref('Role') } }), 401: error, 429: error },
      },
    },
    '/api/logout': { post: { summary: 'End the session', responses: { 200: json({ type: 'object' }) } } },
    '/api/me': { get: { summary: 'Who this request acts for', responses: { 200: json({ type: 'object', properties: { auth: { type: 'boolean' }, name: { type: ['string', 'null'] }, role: ref('Role'), via: { enum: ['open', 'session', 'token'] } } }) } } },
    '/api/tokens': {
      get: { summary: 'API tokens (admin)', responses: { 200: json({ type: 'object', properties: { tokens: { type: 'array', items: ref('Token') } } }), 403: error } },
      post: {
        summary: 'Create an API token for scripts (admin; the token is shown once)',
        requestBody: { content: { 'application/json': { schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, role: { ...ref('Role'), default: 'admin' } } } } } },
        responses: { 201: json({ type: 'object', properties: { id: { type: 'integer' }, token: { type: 'string' }, name: { type: 'string' }, role: ref('Role') } }), 400: error, 403: error },
      },
    },
    '/api/tokens/{id}': {
      parameters: [idParam('id', 'Token id', 'integer')],
      delete: { summary: 'Revoke a token (admin): it stops working at once, live connections made with it close', responses: { 204: { description: 'Revoked' }, 403: error, 404: error } },
    },
    '/api/users': {
      get: { summary: 'Accounts (admin)', responses: { 200: json({ type: 'object', properties: { users: { type: 'array', items: ref('Account') } } }), 403: error } },
      post: {
        summary: 'Add an account (admin)',
        requestBody: { content: { 'application/json': { schema: { type: 'object', required: ['name', 'password'], properties: { name: { type: 'string' }, password: { type: 'string', minLength: 8 }, role: { ...ref('Role'), default: 'viewer' } } } } } },
        responses: { 201: json(ref('Account')), 400: error, 403: error, 409: error },
      },
    },
    '/api/users/{name}': {
      parameters: [idParam('name', 'Account name')],
      delete: { summary: 'Remove an account (admin): its sessions end', responses: { 204: { description: 'Removed' }, 400: error, 403: error, 404: error } },
    },
    '/api/cameras': {
      get: { summary: 'Cameras with state, redacted URL and metrics', responses: { 200: json({ type: 'array', items: ref('CameraStatus') }) } },
      post: { summary: 'Add a camera (starts at once, kept across restarts)', requestBody: { content: { 'application/json': { schema: ref('Camera') } } }, responses: { 201: json(ref('CameraStatus')), 400: error, 409: error } },
    },
    '/api/cameras/{id}': {
      parameters: [idParam('id', 'Camera id')],
      get: { summary: 'One camera', responses: { 200: json(ref('CameraStatus')), 404: error } },
      patch: { summary: 'Change a camera, e.g. { "enabled": false } (it restarts; kept across restarts)', requestBody: { content: { 'application/json': { schema: { type: 'object' } } } }, responses: { 200: json(ref('CameraStatus')), 400: error, 404: error } },
      delete: { summary: 'Remove a camera (its ffmpeg stops; a camera of the config file comes back at the next start)', responses: { 204: { description: 'Removed' }, 404: error } },
    },
    '/api/events': {
      get: {
        summary: 'Recognition events, newest first',
        parameters: eventFilters,
        responses: { 200: json({ type: 'object', properties: { events: { type: 'array', items: ref('Event') }, nextCursor: { type: ['string', 'null'] } } }), 400: error },
      },
    },
    '/api/events.csv': { get: { summary: 'The same events as CSV', parameters: eventFilters.filter((p) => p.name !== 'cursor'), responses: { 200: { description: 'text/csv' }, 400: error } } },
    '/api/events/{id}': { parameters: [idParam('id', 'Event id')], get: { summary: 'One event', responses: { 200: json(ref('Event')), 404: error } } },
    '/api/events/{id}/snapshot': {
      parameters: [idParam('id', 'Event id'), { name: 'kind', in: 'query', schema: { enum: ['face', 'frame'], default: 'face' } }],
      get: { summary: 'The best face, or the frame with the box (JPEG)', responses: { 200: { description: 'image/jpeg' }, 404: error } },
    },
    '/api/events/{id}/review': {
      parameters: [idParam('id', 'Event id')],
      post: {
        summary: "Confirm, reject or relabel; a confirmed or relabeled event can add its face to that person's gallery",
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['action'],
                properties: { action: { enum: ['confirm', 'reject', 'relabel'] }, person: { type: 'string', description: 'For relabel: a name as POST /api/people takes it' }, addToGallery: { type: 'boolean' } },
              },
            },
          },
        },
        responses: { 200: json({ type: 'object' }), 400: error, 404: error },
      },
    },
    '/api/people': {
      get: { summary: 'People with sample counts and a face', responses: { 200: json({ type: 'array', items: ref('Person') }) } },
      post: { summary: 'Create a person', requestBody: { content: { 'application/json': { schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } } }, responses: { 201: json(ref('Person')), 400: error, 409: error } },
    },
    '/api/people/{id}': {
      parameters: [idParam('id', 'Person id', 'integer')],
      get: { summary: 'A person with their faces', responses: { 200: json(ref('Person')), 404: error } },
      patch: { summary: 'Rename', requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { name: { type: 'string' } } } } } }, responses: { 200: json(ref('Person')), 400: error, 404: error, 409: error } },
      delete: { summary: 'Delete a person and their faces', responses: { 204: { description: 'Deleted' }, 404: error } },
    },
    '/api/people/{id}/faces': {
      parameters: [idParam('id', 'Person id', 'integer')],
      post: {
        summary: 'Upload photos (field "files", at most 20, 20 MB and 40 megapixels each); the largest clear face of each is enrolled after the quality gates',
        requestBody: { content: { 'multipart/form-data': { schema: { type: 'object', properties: { files: { type: 'array', items: { type: 'string', format: 'binary' } } } } } } },
        responses: { 201: json({ type: 'object' }, 'At least one photo enrolled; per-file results'), 422: json({ type: 'object' }, 'No photo could be used; per-file reasons'), 400: error, 404: error, 413: error, 503: error, 507: error },
      },
    },
    '/api/people/{id}/faces/{faceId}': {
      parameters: [idParam('id', 'Person id', 'integer'), idParam('faceId', 'Face (sample) id', 'integer')],
      delete: { summary: 'Remove a face', responses: { 204: { description: 'Removed' }, 404: error } },
    },
    '/api/people/{id}/faces/{faceId}/image': {
      parameters: [idParam('id', 'Person id', 'integer'), idParam('faceId', 'Face (sample) id', 'integer')],
      get: { summary: 'The aligned face crop (JPEG)', responses: { 200: { description: 'image/jpeg' }, 404: error } },
    },
    '/api/recognize': {
      post: {
        summary: 'Who is in this photo? (field "file", 20 MB and 40 megapixels at most)',
        requestBody: { content: { 'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } } } } },
        responses: { 200: json({ type: 'object' }, 'Faces with box, label, score, known and top-3 candidates'), 400: error, 413: error, 503: error, 507: error },
      },
    },
  },
  components: {
    schemas: {
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
      Role: { enum: ['admin', 'viewer'], description: 'admin changes anything; viewer watches live video and reads events and snapshots' },
      Token: {
        type: 'object',
        properties: { id: { type: 'integer' }, name: { type: 'string' }, role: { $ref: '#/components/schemas/Role' }, createdAt: { type: 'string' }, lastUsedAt: { type: ['string', 'null'] } },
      },
      Account: {
        type: 'object',
        properties: { name: { type: 'string' }, role: { $ref: '#/components/schemas/Role' }, createdAt: { type: ['string', 'null'] }, source: { enum: ['config', 'database'] } },
      },
      Camera: {
        type: 'object',
        required: ['id', 'url'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
          name: { type: 'string' },
          url: { type: 'string', description: 'rtsp(s)://, http(s):// (MJPEG, HLS), rtmp(s)://, srt://, udp://, /dev/videoN or a video file path; other schemes are refused' },
          enabled: { type: 'boolean' },
          fps: { type: 'number', minimum: 1, maximum: 60 },
          maxWidth: { type: 'integer' },
          maxHeight: { type: 'integer' },
          transport: { enum: ['tcp', 'udp'] },
          minFaceSize: { type: 'integer' },
          loop: { type: 'boolean' },
        },
      },
      CameraStatus: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          url: { type: 'string', description: 'Password and query-string credentials replaced by ***' },
          enabled: { type: 'boolean' },
          origin: { enum: ['file', 'api'], description: 'file: seeded from the config file at every start (the file wins for the keys it sets); api: added at run time' },
          fps: { type: 'number' },
          maxWidth: { type: 'integer' },
          maxHeight: { type: 'integer' },
          transport: { enum: ['tcp', 'udp'] },
          state: { enum: ['connecting', 'live', 'stalled', 'failed', 'stopped'] },
          reason: { type: 'string' },
          fpsIn: { type: 'number' },
          fpsProcessed: { type: 'number' },
          framesDropped: { type: 'integer', description: 'Frames replaced by a newer one before detection' },
          embedsDropped: { type: 'integer', description: 'Embedding jobs replaced by a newer one before the embedder took them' },
          restarts: { type: 'integer' },
        },
      },
      Event: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          cameraId: { type: 'string' },
          person: { type: ['string', 'null'] },
          label: { type: 'string' },
          known: { type: 'boolean' },
          score: { type: 'number' },
          startedAt: { type: 'string', format: 'date-time' },
          endedAt: { type: ['string', 'null'], format: 'date-time' },
          snapshotUrl: { type: ['string', 'null'] },
          review: { enum: ['pending', 'confirmed', 'rejected', 'relabeled'] },
        },
      },
      Person: {
        type: 'object',
        properties: { id: { type: 'integer' }, name: { type: 'string' }, samples: { type: 'integer' }, faceUrl: { type: ['string', 'null'] } },
      },
    },
  },
} as const;
