/**
 * Hash routes of the single-page app. The live view stays the default ("" or "#/"), and its
 * large view keeps its own "#/camera/<id>" route; the other pages live under "#/events",
 * "#/people", "#/identify", "#/system" and "#/notifications" (the webhook rules, until the
 * Settings page holds them).
 */
export type Route =
  | { page: 'live'; cameraId: string | null }
  | { page: 'events'; eventId: string | null }
  | { page: 'people'; personId: number | null }
  | { page: 'identify' }
  | { page: 'system' }
  | { page: 'notifications' };

export type PageName = Route['page'];

export const PAGES: readonly PageName[] = ['live', 'events', 'people', 'identify', 'system', 'notifications'];

/** The route a location hash names; anything unknown is the live view. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/');
  const [head = '', ...tail] = parts;
  const rest = tail.length === 0 || tail[0] === '' ? null : safeDecode(tail.join('/'));
  switch (head) {
    case 'events':
      return { page: 'events', eventId: rest };
    case 'people': {
      const id = rest === null ? NaN : Number(rest);
      return { page: 'people', personId: Number.isInteger(id) && id > 0 ? id : null };
    }
    case 'identify':
      return { page: 'identify' };
    case 'system':
      return { page: 'system' };
    case 'notifications':
      return { page: 'notifications' };
    case 'camera':
      return { page: 'live', cameraId: rest };
    default:
      return { page: 'live', cameraId: null };
  }
}

/** The hash for a route (the inverse of parseRoute). */
export function routeHash(route: Route): string {
  switch (route.page) {
    case 'live':
      return route.cameraId === null ? '#/' : `#/camera/${encodeURIComponent(route.cameraId)}`;
    case 'events':
      return route.eventId === null ? '#/events' : `#/events/${encodeURIComponent(route.eventId)}`;
    case 'people':
      return route.personId === null ? '#/people' : `#/people/${route.personId}`;
    case 'identify':
      return '#/identify';
    case 'system':
      return '#/system';
    case 'notifications':
      return '#/notifications';
  }
}

function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}
