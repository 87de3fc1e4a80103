/**
 * The "Coder" panel of the left sidebar (JupyterLab 4, and Notebook 7's notebook page): the
 * deployment and user, then the user's workspaces with their status, and one click to start,
 * stop, restart or open them. It needs no kernel: everything goes through the server
 * extension's routes (see `workspaces.ts`), which call Coder with the server's stored login.
 *
 * The list is virtualised: rows have a fixed height (plus a fixed-height detail block when a
 * row is expanded), only the visible rows exist in the DOM, and their pages are fetched as
 * they scroll into view.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Clipboard, Notification } from '@jupyterlab/apputils';
import {
  LabIcon,
  addIcon,
  caretDownIcon,
  caretRightIcon,
  copyIcon,
  launchIcon,
  redoIcon,
  refreshIcon,
  runIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { el } from './dom';
import { isWebUrl } from './login';
import { IStatusReply } from './request';
import { coderStatus } from './shared';
import { CoderStatus, CommandIDs } from './statusbar';
import {
  Action,
  BUSY_STATUSES,
  IWorkspace,
  PAGE_SIZE,
  WorkspaceListing,
  act,
  describeFailure,
  fetchWorkspace
} from './workspaces';

/** Height of a row, px (keep in sync with `.cj-panel-row` in base.css). */
const ROW_HEIGHT = 56;
/** Height of an expanded row's detail block, px (`.cj-panel-detail`). */
const DETAIL_HEIGHT = 168;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 6;
/** Quiet refresh while the panel is visible; doubled on each 429, up to {@link MAX_REFRESH_MS}. */
const REFRESH_MS = 30_000;
const MAX_REFRESH_MS = 300_000;
/** Polling a running build. */
const POLL_MS = 1000;
/** Wait before applying the typed filter. */
const FILTER_DEBOUNCE_MS = 400;

const CODER_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M4 5h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2zm0 2v10h16V7H4zm2.3 2.3 1.4-1.4L11.8 12l-4.1 4.1-1.4-1.4L9 12 6.3 9.3zM12 15h6v2h-6v-2z"/>
</svg>`;

/** The panel's sidebar icon. */
export const coderIcon = new LabIcon({ name: 'coder-jupyter:coder', svgstr: CODER_SVG });

/** Command ids of the panel. */
export namespace PanelCommandIDs {
  export const open = 'coder-jupyter:open-panel';
  export const refresh = 'coder-jupyter:refresh-workspaces';
}

/** A build the panel started and follows. */
interface IProgress {
  action: Action;
  text: string;
  error: string | null;
  logTail: string[];
}

function hostOf(url: string | null | undefined): string {
  if (!url) {
    return '';
  }
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** "3 minutes ago", in the browser's language. */
export function relativeTime(iso: string | null, now = Date.now()): string {
  if (!iso) {
    return 'never used';
  }
  const then = Date.parse(iso);
  if (Number.isNaN(then)) {
    return '';
  }
  const seconds = Math.round((then - now) / 1000);
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['year', 31_536_000],
    ['month', 2_592_000],
    ['day', 86_400],
    ['hour', 3600],
    ['minute', 60]
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) {
      return format.format(Math.round(seconds / size), unit);
    }
  }
  return format.format(0, 'minute');
}

/** A small icon button with an accessible name. */
function iconButton(icon: LabIcon, label: string, onClick: () => void, className = ''): HTMLButtonElement {
  const button = el('button', `jp-ToolbarButtonComponent jp-mod-minimal jp-Button cj-panel-icon ${className}`);
  button.type = 'button';
  button.title = label;
  button.setAttribute('aria-label', label);
  icon.element({ container: button, elementPosition: 'center', height: '16px', width: '16px' });
  button.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return button;
}

function textButton(label: string, onClick: () => void, accept = false): HTMLButtonElement {
  const button = el('button', `jp-Button jp-mod-styled ${accept ? 'jp-mod-accept' : 'jp-mod-reject'} cj-panel-button`, label);
  button.type = 'button';
  button.addEventListener('click', () => onClick());
  return button;
}

/** What a notebook panel offers the "Insert in notebook" action (JupyterLab's NotebookPanel). */
interface INotebookLike {
  content: {
    activeCellIndex: number;
    model: {
      sharedModel: {
        cells: { getSource(): string }[];
        insertCell(index: number, cell: { cell_type: 'code'; source: string }): unknown;
      };
    } | null;
  };
}

function asNotebook(widget: Widget | null): INotebookLike | null {
  const content = (widget as unknown as { content?: INotebookLike['content'] } | null)?.content;
  const shared = content?.model?.sharedModel;
  return content && shared && typeof shared.insertCell === 'function' && Array.isArray(shared.cells)
    ? (widget as unknown as INotebookLike)
    : null;
}

/** The cell "Insert in notebook" adds (loading the extension first if the notebook does not). */
export function workspaceCell(fullName: string, loaded: boolean): string {
  const load = loaded ? '' : '%load_ext coder_jupyter\n';
  return `${load}ws = coder.workspace(${JSON.stringify(fullName)})\nws`;
}

/** The Coder sidebar panel. */
export class CoderPanel extends Widget {
  constructor(
    private readonly _app: JupyterFrontEnd,
    private readonly _status: CoderStatus
  ) {
    super();
    this.id = 'coder-jupyter-panel';
    this.addClass('cj-panel');
    this.title.icon = coderIcon;
    this.title.caption = 'Coder workspaces';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Coder workspaces');

    this._listing = new WorkspaceListing(() => this._scheduleRender());
    this._buildDom();
    this._status.subscribe(status => this._onStatus(status));
  }

  /** Reload the list now (keeps the scroll position's pages). */
  async refresh(): Promise<void> {
    if (this._listing.count === null || this._listing.failure) {
      await this._listing.reset(this._listing.query);
    } else {
      await this._listing.refresh(this._visiblePages());
    }
    this._afterLoad();
  }

  protected onAfterShow(): void {
    this._scheduleRender();
    if (this._loggedIn()) {
      void this.refresh();
    }
    this._armRefresh();
  }

  protected onAfterHide(): void {
    window.clearTimeout(this._refreshTimer);
  }

  protected onResize(): void {
    this._scheduleRender();
  }

  dispose(): void {
    window.clearTimeout(this._refreshTimer);
    window.clearTimeout(this._filterTimer);
    this._closed = true;
    super.dispose();
  }

  // -- structure -------------------------------------------------------------------------------

  private _buildDom(): void {
    const header = el('div', 'cj-panel-header');
    const title = el('div', 'cj-panel-title');
    title.append(el('h2', 'cj-panel-heading', 'Coder'));
    this._who = el('div', 'cj-panel-who');
    title.append(this._who);
    this._authButton = textButton('Log in', () => void this._toggleLogin(), true);
    header.append(title, this._authButton);

    const toolbar = el('div', 'cj-panel-toolbar');
    this._filter = el('input', 'jp-mod-styled cj-panel-filter');
    this._filter.type = 'search';
    this._filter.value = this._listing.query;
    this._filter.placeholder = 'owner:me status:running template:…';
    this._filter.setAttribute('aria-label', 'Filter workspaces (Coder search syntax)');
    this._filter.title = 'Coder search syntax, e.g. owner:me status:running template:docker name:dev';
    this._filter.addEventListener('input', () => {
      window.clearTimeout(this._filterTimer);
      this._filterTimer = window.setTimeout(() => this._applyFilter(), FILTER_DEBOUNCE_MS);
    });
    this._filter.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        window.clearTimeout(this._filterTimer);
        this._applyFilter();
      }
    });
    const refresh = iconButton(refreshIcon, 'Refresh workspaces', () => void this.refresh(), 'cj-panel-refresh');
    toolbar.append(this._filter, refresh);

    this._summary = el('div', 'cj-panel-summary');
    this._summary.setAttribute('aria-live', 'polite');

    this._message = el('div', 'cj-panel-message');
    this._message.setAttribute('role', 'status');

    this._scroller = el('div', 'cj-panel-scroller');
    this._scroller.addEventListener('scroll', () => this._scheduleRender());
    this._spacer = el('div', 'cj-panel-spacer');
    this._spacer.setAttribute('role', 'list');
    this._spacer.setAttribute('aria-label', 'Workspaces');
    this._scroller.append(this._spacer);

    this.node.append(header, toolbar, this._summary, this._message, this._scroller);
  }

  // -- login state -----------------------------------------------------------------------------

  private _loggedIn(): boolean {
    return this._status.current?.status === 'logged_in';
  }

  private _onStatus(status: IStatusReply | null): void {
    const wasIn = this._wasLoggedIn;
    this._wasLoggedIn = status?.status === 'logged_in';
    this._who.textContent = '';
    if (status === null) {
      this._who.textContent = 'Server extension unavailable';
    } else if (status.status === 'unconfigured') {
      this._who.textContent = 'No deployment configured (set CODER_URL)';
    } else {
      const link = el('a', 'cj-panel-deployment', hostOf(status.deployment));
      if (status.deployment && isWebUrl(status.deployment)) {
        link.href = status.deployment;
        link.target = '_blank';
        link.rel = 'noopener noreferrer';
      }
      this._who.append(link);
      const user = status.status === 'logged_in' ? (status.username ?? 'logged in') : 'logged out';
      const who = el('div', 'cj-panel-user', user);
      who.title = status.status === 'logged_in' ? `Logged in as ${user} (${status.method ?? '?'})` : '';
      this._who.append(who);
    }
    const canLogIn = status !== null && status.status !== 'unconfigured';
    this._authButton.hidden = !canLogIn;
    this._authButton.textContent = this._wasLoggedIn ? 'Log out' : 'Log in';
    this._authButton.className = `jp-Button jp-mod-styled ${this._wasLoggedIn ? 'jp-mod-reject' : 'jp-mod-accept'} cj-panel-button`;
    this._authButton.setAttribute('aria-label', this._wasLoggedIn ? 'Log out of Coder' : 'Log in to Coder');
    this.node.dataset.status = status?.status ?? 'unavailable';
    if (this._wasLoggedIn && !wasIn) {
      void this._listing.reset(this._listing.query).then(() => this._afterLoad());
    }
    this._scheduleRender();
  }

  private async _toggleLogin(): Promise<void> {
    await this._app.commands.execute(this._loggedIn() ? CommandIDs.logout : CommandIDs.login);
  }

  // -- list ------------------------------------------------------------------------------------

  private _applyFilter(): void {
    const query = this._filter.value.trim();
    if (query === this._listing.query) {
      return;
    }
    this._expanded.clear();
    this._scroller.scrollTop = 0;
    void this._listing.reset(query).then(() => this._afterLoad());
  }

  private _afterLoad(): void {
    const failure = this._listing.failure;
    if (failure?.retryAfter) {
      this._refreshMs = Math.min(MAX_REFRESH_MS, Math.max(this._refreshMs * 2, failure.retryAfter * 1000));
    } else if (!failure) {
      this._refreshMs = REFRESH_MS;
    }
    if (failure?.loginRequired) {
      void this._status.refresh();
    }
    this._armRefresh();
  }

  /** The quiet refresh: only while the panel and the page are visible and no build is followed. */
  private _armRefresh(): void {
    window.clearTimeout(this._refreshTimer);
    if (this._closed) {
      return;
    }
    this._refreshTimer = window.setTimeout(() => {
      if (this.isVisible && document.visibilityState === 'visible' && this._loggedIn() && !this._listing.loading) {
        void this.refresh();
      } else {
        this._armRefresh();
      }
    }, this._refreshMs);
  }

  private _visiblePages(): number[] {
    const [first, last] = this._visibleRange();
    const pages: number[] = [];
    for (let p = Math.floor(first / PAGE_SIZE); p <= Math.floor(Math.max(first, last) / PAGE_SIZE); p++) {
      pages.push(p);
    }
    return pages;
  }

  /** Top of row `index`, px: fixed-height rows plus the detail blocks of expanded rows above it. */
  private _top(index: number): number {
    let top = index * ROW_HEIGHT;
    for (const i of this._expandedIndexes()) {
      if (i < index) {
        top += DETAIL_HEIGHT;
      }
    }
    return top;
  }

  private _expandedIndexes(): number[] {
    return [...this._expanded.values()].sort((a, b) => a - b);
  }

  /** Index of the row whose block (row plus detail) holds `y` px. */
  private _indexAt(y: number): number {
    let offset = 0;
    for (const i of this._expandedIndexes()) {
      const rowEnd = i * ROW_HEIGHT + offset + ROW_HEIGHT;
      if (y < rowEnd) {
        break;
      }
      if (y < rowEnd + DETAIL_HEIGHT) {
        return i;
      }
      offset += DETAIL_HEIGHT;
    }
    return Math.max(0, Math.floor((y - offset) / ROW_HEIGHT));
  }

  private _visibleRange(): [number, number] {
    const count = this._listing.count ?? 0;
    if (count === 0) {
      return [0, -1];
    }
    const top = this._scroller.scrollTop;
    const height = this._scroller.clientHeight || ROW_HEIGHT * 10;
    const first = Math.max(0, this._indexAt(top) - OVERSCAN);
    const last = Math.min(count - 1, this._indexAt(top + height) + OVERSCAN);
    return [first, last];
  }

  private _scheduleRender(): void {
    if (this._frame !== 0 || this._closed) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._render();
    });
  }

  private _render(): void {
    const listing = this._listing;
    const status = this._status.current;
    const loggedIn = this._loggedIn();
    const failure = listing.failure;

    // Messages: logged out, loading, error with retry, empty.
    this._message.textContent = '';
    this._message.dataset.kind = '';
    if (!loggedIn) {
      if (status !== null && status.status !== 'unconfigured') {
        this._message.dataset.kind = 'login';
        this._message.append(el('p', '', 'Log in to Coder to see your workspaces.'));
        this._message.append(textButton('Log in', () => void this._app.commands.execute(CommandIDs.login), true));
      }
    } else if (failure) {
      this._message.dataset.kind = 'error';
      const text = failure.retryAfter
        ? `Coder is rate limiting requests; retrying in ${Math.round(this._refreshMs / 1000)} s.`
        : failure.message;
      this._message.append(el('p', 'cj-panel-error', text));
      this._message.append(textButton('Retry', () => void this._listing.reset(this._listing.query).then(() => this._afterLoad())));
    } else if (listing.count === 0) {
      this._message.dataset.kind = 'empty';
      this._message.append(el('p', '', `No workspaces match “${listing.query}”.`));
    } else if (listing.count === null && listing.loading) {
      this._message.dataset.kind = 'loading';
      this._message.append(el('p', 'cj-panel-loading', 'Loading workspaces…'));
    }
    this._message.hidden = this._message.childElementCount === 0;

    const count = loggedIn && !failure ? (listing.count ?? 0) : 0;
    this._summary.textContent =
      loggedIn && listing.count !== null && !failure
        ? `${listing.count} workspace${listing.count === 1 ? '' : 's'}${listing.loading ? ' · loading…' : ''}`
        : '';

    // Rows: only the visible ones exist.
    this._spacer.style.height = `${this._top(count)}px`;
    const [first, last] = count > 0 ? this._visibleRange() : [0, -1];
    const keep = new Set<number>();
    for (let i = first; i <= last; i++) {
      keep.add(i);
      const row = listing.row(i);
      if (row === undefined) {
        void listing.ensure(i);
      }
      const key = row ? this._signature(row) : 'loading';
      let node = this._rows.get(i);
      if (node === undefined || node.dataset.key !== key) {
        const fresh = row ? this._renderRow(row, i, count) : this._placeholder(i, count);
        fresh.dataset.key = key;
        if (node !== undefined) {
          const focused = node.contains(document.activeElement) ? document.activeElement?.getAttribute('aria-label') : null;
          node.replaceWith(fresh);
          if (focused) {
            (fresh.querySelector(`[aria-label="${CSS.escape(focused)}"]`) as HTMLElement | null)?.focus();
          }
        } else {
          this._spacer.append(fresh);
        }
        node = fresh;
        this._rows.set(i, node);
      }
      node.style.top = `${this._top(i)}px`;
    }
    for (const [i, node] of this._rows) {
      if (!keep.has(i)) {
        node.remove();
        this._rows.delete(i);
      }
    }
  }

  private _signature(row: IWorkspace): string {
    const progress = this._progress.get(row.id);
    const expanded = this._expanded.has(row.id);
    const detail = this._details.get(row.id);
    return JSON.stringify([row, progress ?? null, expanded, expanded ? (detail ?? null) : null]);
  }

  private _placeholder(index: number, count: number): HTMLElement {
    const node = el('div', 'cj-panel-row cj-panel-placeholder', 'Loading…');
    node.setAttribute('role', 'listitem');
    node.setAttribute('aria-posinset', String(index + 1));
    node.setAttribute('aria-setsize', String(count));
    return node;
  }

  private _renderRow(ws: IWorkspace, index: number, count: number): HTMLElement {
    const progress = this._progress.get(ws.id);
    const expanded = this._expanded.has(ws.id);
    const node = el('div', 'cj-panel-row');
    node.setAttribute('role', 'listitem');
    node.setAttribute('aria-posinset', String(index + 1));
    node.setAttribute('aria-setsize', String(count));
    node.dataset.name = ws.name;
    node.dataset.status = ws.status;
    node.dataset.expanded = String(expanded);

    const main = el('div', 'cj-panel-main');
    const toggle = iconButton(
      expanded ? caretDownIcon : caretRightIcon,
      `${expanded ? 'Hide' : 'Show'} details of ${ws.name}`,
      () => this._toggle(ws, index),
      'cj-panel-toggle'
    );
    toggle.setAttribute('aria-expanded', String(expanded));
    const text = el('div', 'cj-panel-text');
    const line1 = el('div', 'cj-panel-line1');
    const pill = el('span', `cj-pill cj-pill-${ws.status}`, ws.status);
    pill.dataset.status = ws.status;
    line1.append(el('span', 'cj-panel-name', ws.name), pill);
    if (ws.outdated) {
      const outdated = el('span', 'cj-panel-outdated', 'outdated');
      outdated.title = 'A newer template version is available: update from the Coder dashboard.';
      line1.append(outdated);
    }
    const line2 = el('div', 'cj-panel-line2');
    if (progress && !progress.error) {
      line2.append(el('span', 'cj-panel-progress-text', progress.text));
      node.append(el('div', 'cj-panel-progress'));
    } else if (progress?.error) {
      line2.append(el('span', 'cj-panel-error', progress.error));
    } else {
      const owner = ws.owner !== this._status.current?.username ? `${ws.owner} · ` : '';
      line2.textContent = `${owner}${ws.template_display_name} · ${relativeTime(ws.last_used_at)}`;
    }
    text.append(line1, line2);

    const actions = el('div', 'cj-panel-actions');
    const busy = progress !== undefined && !progress.error;
    if (!busy && !BUSY_STATUSES.has(ws.status)) {
      if (ws.status === 'running') {
        actions.append(iconButton(stopIcon, `Stop ${ws.name}`, () => void this._act(ws, 'stop')));
        actions.append(iconButton(redoIcon, `Restart ${ws.name}`, () => void this._act(ws, 'restart')));
      } else {
        actions.append(iconButton(runIcon, `Start ${ws.name}`, () => void this._act(ws, 'start')));
      }
    }
    actions.append(iconButton(launchIcon, `Open ${ws.name} in the Coder dashboard`, () => this._open(ws.dashboard_url)));
    actions.append(iconButton(copyIcon, `Copy "coder ssh ${this._sshName(ws)}"`, () => this._copySsh(ws)));
    actions.append(iconButton(addIcon, `Insert ${ws.name} in the notebook`, () => this._insert(ws)));
    main.append(toggle, text, actions);
    node.append(main);

    if (expanded) {
      node.append(this._renderDetail(ws, progress));
    }
    return node;
  }

  private _renderDetail(ws: IWorkspace, progress: IProgress | undefined): HTMLElement {
    const detail = el('div', 'cj-panel-detail');
    const full = this._details.get(ws.id);
    const apps = el('div', 'cj-panel-apps');
    if (full === undefined) {
      apps.append(el('span', 'cj-panel-muted', 'Loading…'));
    } else if (full.apps && full.apps.length > 0 && ws.status === 'running') {
      for (const app of full.apps) {
        const button = textButton(app.name, () => this._open(app.url));
        button.setAttribute('aria-label', `Open ${app.name} of ${ws.name}`);
        apps.append(button);
      }
    } else {
      apps.append(el('span', 'cj-panel-muted', ws.status === 'running' ? 'No apps exposed.' : 'Start the workspace to open its apps.'));
    }
    detail.append(apps);
    const build = full?.build ?? ws.build;
    detail.append(el('div', 'cj-panel-muted', `Build #${build.number}: ${build.transition} ${build.status}`));
    const error = progress?.error ?? (build.failed ? build.error : null);
    const tail = progress?.logTail.length ? progress.logTail : (full?.build.log_tail ?? []);
    if (error || tail.length > 0) {
      const log = el('pre', 'cj-panel-log');
      log.setAttribute('aria-label', `Last log lines of ${ws.name}'s build`);
      log.textContent = [...(error ? [error] : []), ...tail].join('\n');
      detail.append(log);
    }
    return detail;
  }

  // -- actions ---------------------------------------------------------------------------------

  private _toggle(ws: IWorkspace, index: number): void {
    if (this._expanded.has(ws.id)) {
      this._expanded.delete(ws.id);
      if (this._progress.get(ws.id)?.error) {
        this._progress.delete(ws.id); // collapsing dismisses a failed action's message
      }
    } else {
      this._expanded.set(ws.id, index);
      void this._loadDetail(ws.id);
    }
    this._scheduleRender();
  }

  private async _loadDetail(id: string): Promise<IWorkspace | null> {
    try {
      const full = await fetchWorkspace(id);
      this._details.set(id, full);
      this._listing.update(full);
      return full;
    } catch (error) {
      const failure = await describeFailure(error);
      Notification.error(`Coder: ${failure.message}`, { autoClose: 8000 });
      return null;
    } finally {
      this._scheduleRender();
    }
  }

  private async _act(ws: IWorkspace, action: Action): Promise<void> {
    const verb = { start: 'Starting', stop: 'Stopping', restart: 'Restarting' }[action];
    this._progress.set(ws.id, { action, text: `${verb}…`, error: null, logTail: [] });
    this._scheduleRender();
    try {
      const build = await act(ws.id, action);
      this._progress.set(ws.id, { action, text: `${verb}: build #${build.number} ${build.status}…`, error: null, logTail: [] });
      this._scheduleRender();
      await this._follow(ws.id, action, verb);
    } catch (error) {
      const failure = await describeFailure(error);
      this._progress.set(ws.id, { action, text: '', error: `${verb} failed: ${failure.message}`, logTail: [] });
      this._scheduleRender();
    }
  }

  /** Poll the workspace until the build is done; on failure keep its error and last log lines. */
  private async _follow(id: string, action: Action, verb: string): Promise<void> {
    let delay = POLL_MS;
    for (;;) {
      await new Promise(resolve => window.setTimeout(resolve, delay));
      if (this._closed) {
        return;
      }
      let ws: IWorkspace;
      try {
        ws = await fetchWorkspace(id);
      } catch (error) {
        const failure = await describeFailure(error);
        if (failure.retryAfter) {
          delay = failure.retryAfter * 1000;
          continue;
        }
        throw error;
      }
      delay = POLL_MS;
      this._details.set(id, ws);
      this._listing.update(ws);
      const b = ws.build;
      const finished = b.done && (action !== 'restart' || b.transition === 'start' || b.failed);
      if (finished && b.failed) {
        this._progress.set(id, {
          action,
          text: '',
          error: b.error || `The ${b.transition} build #${b.number} ${b.status}.`,
          logTail: b.log_tail ?? []
        });
        const index = this._indexOf(id);
        if (index !== null) {
          this._expanded.set(id, index);
        }
        this._scheduleRender();
        return;
      }
      if (finished) {
        this._progress.delete(id);
        this._scheduleRender();
        return;
      }
      this._progress.set(id, { action, text: `${verb}: build #${b.number} ${b.transition} ${b.status}…`, error: null, logTail: [] });
      this._scheduleRender();
    }
  }

  private _indexOf(id: string): number | null {
    const count = this._listing.count ?? 0;
    for (let i = 0; i < count; i++) {
      if (this._listing.row(i)?.id === id) {
        return i;
      }
    }
    return null;
  }

  private _open(url: string): void {
    if (isWebUrl(url)) {
      window.open(url, '_blank', 'noopener,noreferrer');
    }
  }

  private _sshName(ws: IWorkspace): string {
    return ws.owner === this._status.current?.username ? ws.name : ws.full_name;
  }

  private _copySsh(ws: IWorkspace): void {
    const command = `coder ssh ${this._sshName(ws)}`;
    Clipboard.copyToSystem(command);
    Notification.info(`Copied “${command}”`, { autoClose: 3000 });
  }

  private _insert(ws: IWorkspace): void {
    const notebook = asNotebook(this._app.shell.currentWidget);
    const model = notebook?.content.model;
    if (!notebook || !model) {
      Notification.warning('Open a notebook first: the cell is added to the active notebook.', { autoClose: 5000 });
      return;
    }
    const cells = model.sharedModel.cells;
    const loaded = cells.some(cell => /%(re)?load_ext\s+coder_jupyter/.test(cell.getSource()));
    const index = Math.min(cells.length, Math.max(0, notebook.content.activeCellIndex + 1));
    model.sharedModel.insertCell(index, { cell_type: 'code', source: workspaceCell(ws.full_name, loaded) });
    notebook.content.activeCellIndex = index;
  }

  private _listing: WorkspaceListing;
  private _who!: HTMLElement;
  private _authButton!: HTMLButtonElement;
  private _filter!: HTMLInputElement;
  private _summary!: HTMLElement;
  private _message!: HTMLElement;
  private _scroller!: HTMLElement;
  private _spacer!: HTMLElement;
  private _rows = new Map<number, HTMLElement>();
  private _expanded = new Map<string, number>();
  private _details = new Map<string, IWorkspace>();
  private _progress = new Map<string, IProgress>();
  private _wasLoggedIn = false;
  private _frame = 0;
  private _refreshMs = REFRESH_MS;
  private _refreshTimer = 0;
  private _filterTimer = 0;
  private _closed = false;
}

/** The left-sidebar panel, where the front end has a left area (JupyterLab; Notebook 7's notebook page). */
export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coder-jupyter:panel',
  description: 'The Coder sidebar panel: your workspaces, start/stop/open without writing code.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null): void => {
    const panel = new CoderPanel(app, coderStatus());
    app.commands.addCommand(PanelCommandIDs.open, {
      label: 'Show Coder workspaces',
      icon: coderIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(PanelCommandIDs.refresh, {
      label: 'Refresh Coder workspaces',
      icon: refreshIcon,
      execute: () => panel.refresh()
    });
    try {
      app.shell.add(panel, 'left', { rank: 900 });
      restorer?.add(panel, panel.id); // reopen the panel where the user left it
    } catch (error) {
      console.warn('coder-jupyter: this front end has no left area for the Coder panel', error);
    }
  }
};
