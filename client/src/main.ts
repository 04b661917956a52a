/**
 * The single-page app: one `/live` Socket.IO connection shared by the pages, a nav in the
 * header, and hash routes choosing the page shown (the live view is the default).
 */
import { io } from '/socket.io/socket.io.esm.min.js';
import { LOGIN_PAGE, goToLogin, logout, whoAmI } from './api.js';
import { byId, h } from './dom.js';
import { EventsPage } from './events-page.js';
import { foldFilters } from './filter-fold.js';
import { IdentifyPage } from './identify-page.js';
import { LivePage, type LiveSocket } from './live-page.js';
import { renderNotificationsEditor, type NotificationsEditor } from './notifications-editor.js';
import { PeoplePage } from './people-page.js';
import { PAGES, parseRoute, type PageName, type Route } from './router.js';
import { SettingsPage } from './settings-page.js';
import { SystemPage } from './system-page.js';
import { setUpThemeSwitch } from './theme.js';
import { TuningPage } from './tuning-page.js';

setUpThemeSwitch(byId('theme', HTMLSelectElement));
const socket: LiveSocket = io('/live', { reconnectionDelayMax: 2000 });
// with access control on, a connection without a session is refused: log in first
socket.on('connect_error', (error) => {
  if (/unauthori[sz]ed/i.test(error.message)) goToLogin();
});
const live = new LivePage(socket);
const events = new EventsPage(socket);
// on a phone the filters fold behind a button, so the events start on the first screen
foldFilters(byId('event-filters-toggle', HTMLButtonElement), byId('event-filters', HTMLFormElement));
const people = new PeoplePage();
const system = new SystemPage();
const settings = new SettingsPage(byId('page-settings', HTMLElement));
const tuning = new TuningPage();
new IdentifyPage(); // needs nothing when shown: it keeps its last photo while the app runs

const sections: Record<PageName, HTMLElement> = {
  live: byId('page-live', HTMLElement),
  events: byId('page-events', HTMLElement),
  people: byId('page-people', HTMLElement),
  identify: byId('page-identify', HTMLElement),
  tuning: byId('page-tuning', HTMLElement),
  system: byId('page-system', HTMLElement),
  settings: byId('page-settings', HTMLElement),
};
/** Rendered the first time its page is shown (it asks an admin-only route), reloaded at each visit. */
let notifications: NotificationsEditor | null = null;

let shown: PageName | null = null;

function show(route: Route): void {
  const page = route.page;
  const entering = page !== shown;
  for (const name of PAGES) {
    sections[name].hidden = name !== page;
    const link = document.querySelector(`[data-testid="nav-${name}"]`);
    if (name === page) {
      link?.setAttribute('aria-current', 'page');
      // a phone's nav scrolls sideways: the current page's link in view
      link?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    } else link?.removeAttribute('aria-current');
  }
  document.body.dataset.page = page;
  document.title = `facestream · ${page}`;
  live.setActive(page === 'live');
  if (page === 'events') events.show(route.eventId, entering);
  else events.hide();
  if (page === 'people') people.show(route.personId, entering);
  system.setActive(page === 'system');
  settings.setActive(page === 'settings');
  // read again on every visit: reviews on the Events page change the replay
  if (page === 'tuning' && entering) void tuning.show();
  if (page === 'settings' && entering) {
    if (notifications) void notifications.reload();
    else notifications = renderNotificationsEditor(settings.addSection('Notifications (webhooks)', 'settings-notifications'));
  }
  if (entering && shown !== null) {
    // a new page: start at its top, and move focus to it for keyboard and screen-reader users
    window.scrollTo(0, 0);
    sections[page].querySelector<HTMLElement>('h2')?.focus({ preventScroll: true });
  }
  shown = page;
}

const logoutButton = byId('logout', HTMLButtonElement);
logoutButton.addEventListener('click', () => {
  void logout().then(() => window.location.assign(LOGIN_PAGE));
});
void whoAmI().then((me) => {
  logoutButton.hidden = !me?.auth;
  // the name is left out on a phone's header (styles.css), where the row has no room for it
  if (me?.name) logoutButton.replaceChildren('Log out', h('span', { class: 'logout-name' }, ` ${me.name}`));
  // a viewer watches and reads: the forms that change things are hidden (the server refuses them anyway)
  if (me) document.body.dataset.role = me.role;
});

window.addEventListener('hashchange', () => show(parseRoute(window.location.hash)));
show(parseRoute(window.location.hash));
