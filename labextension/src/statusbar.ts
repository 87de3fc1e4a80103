/**
 * The status-bar item ("Coder: alice" / "Coder: logged out") and the commands
 * `coder-jupyter:login` and `coder-jupyter:logout`, which work without a notebook or a kernel:
 * they call the server extension's JSON routes.
 */

import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import {
  STATUS_CHANGED_EVENT,
  announceStatusChange,
  callbackUri,
  closePopup,
  confirmLogout,
  hostOf,
  isCallbackMessage,
  navigatePopup,
  openInPopup,
  openPopup
} from './login';
import { ILoginReply, IStatusReply, requestAPI } from './request';

/** Command ids. */
export namespace CommandIDs {
  export const login = 'coder-jupyter:login';
  export const logout = 'coder-jupyter:logout';
  export const cliTerminals = 'coder-jupyter:cli-terminals';
  export const cliOff = 'coder-jupyter:cli-off';
}

/** How often the status is polled while the page is visible. */
const POLL_MS = 30_000;

type Listener = (status: IStatusReply | null) => void;

function errorText(error: unknown): string {
  if (error instanceof ServerConnection.ResponseError) {
    return error.message || `${error.response.status} ${error.response.statusText}`;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/**
 * The login state as the server extension sees it: polled, refreshed after each command and
 * whenever the callback page posts its message.
 */
export class CoderStatus {
  constructor() {
    window.addEventListener('message', this._onMessage);
    window.addEventListener(STATUS_CHANGED_EVENT, this._onChanged);
    document.addEventListener('visibilitychange', this._onVisibility);
    this._timer = window.setInterval(() => {
      if (document.visibilityState !== 'hidden') {
        void this.refresh();
      }
    }, POLL_MS);
    void this.refresh();
  }

  /** The last status, or `null` before the first answer / when the server has no extension. */
  get current(): IStatusReply | null {
    return this._current;
  }

  /** The last request's error text, if it failed. */
  get error(): string | null {
    return this._error;
  }

  /** Call `listener` on every change (and once now). */
  subscribe(listener: Listener): void {
    this._listeners.push(listener);
    listener(this._current);
  }

  /** Ask the server now. */
  async refresh(): Promise<IStatusReply | null> {
    try {
      this._set(await requestAPI<IStatusReply>('api/status'), null);
    } catch (error) {
      this._set(null, errorText(error));
    }
    return this._current;
  }

  /** Adopt a status a command already received. */
  adopt(status: IStatusReply): void {
    this._set(status, null);
  }

  dispose(): void {
    window.clearInterval(this._timer);
    window.removeEventListener('message', this._onMessage);
    window.removeEventListener(STATUS_CHANGED_EVENT, this._onChanged);
    document.removeEventListener('visibilitychange', this._onVisibility);
  }

  private _set(status: IStatusReply | null, error: string | null): void {
    this._current = status;
    this._error = error;
    for (const listener of this._listeners) {
      listener(status);
    }
  }

  private _onMessage = (event: MessageEvent): void => {
    if (isCallbackMessage(event)) {
      void this.refresh();
    }
  };

  private _onChanged = (): void => {
    void this.refresh();
  };

  private _onVisibility = (): void => {
    if (document.visibilityState === 'visible') {
      void this.refresh();
    }
  };

  private _current: IStatusReply | null = null;
  private _error: string | null = null;
  private _listeners: Listener[] = [];
  private _timer: number;
}

/**
 * The status-bar text for a status. With several deployments in use the host is named too
 * ("Coder: alice @ coder.example.com"); the hover title always names it.
 */
export function statusText(status: IStatusReply | null): string {
  if (status === null) {
    return 'Coder: unavailable';
  }
  const at = (status.deployments_in_use ?? 1) > 1 && status.deployment ? ` @ ${hostOf(status.deployment)}` : '';
  return statusWords(status) + at;
}

function statusWords(status: IStatusReply): string {
  switch (status.status) {
    case 'logged_in':
      return `Coder: ${status.username ?? 'logged in'}`;
    case 'waiting':
      return 'Coder: logging in…';
    case 'expired':
      return 'Coder: session expired';
    case 'error':
      return 'Coder: login failed';
    case 'unconfigured':
      return 'Coder: no deployment';
    default:
      return 'Coder: logged out';
  }
}

/** The status-bar item: a small clickable label; click logs in (or offers to log out). */
export class CoderStatusItem extends Widget {
  constructor(status: CoderStatus, onClick: () => void) {
    super();
    this.addClass('coder-jupyter-status');
    this.addClass('jp-StatusBar-TextItem');
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    this.node.addEventListener('click', () => onClick());
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        onClick();
      }
    });
    status.subscribe(current => this._render(current, status.error));
  }

  private _render(status: IStatusReply | null, error: string | null): void {
    this.node.textContent = statusText(status);
    this.node.dataset.status = status?.status ?? 'unavailable';
    if (status === null) {
      this.node.title = `Coder login status unavailable${error ? `: ${error}` : ''}`;
    } else if (status.status === 'logged_in') {
      this.node.title = `Logged in to ${hostOf(status.deployment)} as ${status.username ?? '?'} (${status.method ?? '?'}). Click to log out.`;
    } else if (status.status === 'unconfigured') {
      this.node.title = 'No Coder deployment configured: set CODER_URL for the Jupyter server.';
    } else {
      this.node.title = `Not logged in to ${hostOf(status.deployment)}. Click to log in.${status.error ? ` (${status.error})` : ''}`;
    }
  }
}

/**
 * `coder-jupyter:login`: open the popup during the click, ask the server to start a login,
 * navigate the popup to Coder's consent page. The callback page tells us when it is done.
 */
export async function login(status: CoderStatus): Promise<void> {
  const popup = openPopup();
  let reply: ILoginReply;
  try {
    reply = await requestAPI<ILoginReply>('api/login', {
      method: 'POST',
      body: JSON.stringify({ redirect_uri: callbackUri() })
    });
  } catch (error) {
    closePopup();
    Notification.error(`Coder login failed: ${errorText(error)}`, { autoClose: 10_000 });
    await status.refresh();
    return;
  }
  if (popup === null || !navigatePopup(reply.authorization_url)) {
    const url = reply.authorization_url;
    Notification.warning('Your browser blocked the Coder login popup.', {
      autoClose: false,
      actions: [{ label: "Open Coder's consent page", callback: () => void openInPopup(url) }]
    });
  }
  await status.refresh();
}

/** `coder-jupyter:logout`: revoke and forget the credentials on the server's side. */
export async function logout(status: CoderStatus): Promise<void> {
  try {
    status.adopt(await requestAPI<IStatusReply>('api/logout', { method: 'POST', body: '{}' }));
    announceStatusChange(); // open login widgets re-read the store
    Notification.info('Logged out of Coder.', { autoClose: 4000 });
  } catch (error) {
    Notification.error(`Coder logout failed: ${errorText(error)}`, { autoClose: 10_000 });
    await status.refresh();
  }
}

/** The status-bar click: log in when logged out; when logged in, confirm and log out. */
export async function toggle(status: CoderStatus): Promise<void> {
  const current = status.current;
  if (current?.status === 'logged_in') {
    if (await confirmLogout(current.deployment, current.username)) {
      await logout(status);
    }
  } else if (current?.status === 'unconfigured') {
    Notification.info('No Coder deployment is configured: set CODER_URL before starting Jupyter.', {
      autoClose: 8000
    });
  } else {
    await login(status);
  }
}

/** The body of `coder/api/cli`: where the Coder CLI shares the login (paths; never a secret). */
export interface ICliReply {
  deployment: string;
  kernels: string | null;
  terminals: { mode: string; directory: string; instruction: string | null; description: string } | null;
  /** Set instead of sharing when the CLI holds a session we did not write (e.g. `coder login`). */
  conflict?: string;
}

function cliRequest(force: boolean): Promise<ICliReply> {
  return requestAPI<ICliReply>('api/cli', { method: 'POST', body: JSON.stringify({ force }) });
}

/**
 * `coder-jupyter:cli-terminals`: share the login with `coder` in terminals. A session the user
 * made with `coder login` is replaced only after they confirm.
 */
export async function shareWithTerminals(): Promise<void> {
  try {
    let reply = await cliRequest(false);
    if (reply.conflict) {
      const result = await showDialog({
        title: 'Replace the Coder CLI login in terminals?',
        body: reply.conflict,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Replace' })]
      });
      if (!result.button.accept) {
        return;
      }
      reply = await cliRequest(true);
    }
    const share = reply.terminals;
    if (share?.instruction) {
      Notification.info(`To use this Coder login in a terminal, run: ${share.instruction}`, { autoClose: false });
    } else if (share) {
      Notification.success('`coder` in terminals now uses this login, until you log out.', { autoClose: 6000 });
    }
  } catch (error) {
    Notification.error(`Sharing the Coder login with terminals failed: ${errorText(error)}`, {
      autoClose: 10_000
    });
  }
}

/** `coder-jupyter:cli-off`: stop sharing with terminals (removes only our own copy). */
export async function stopSharingWithTerminals(): Promise<void> {
  try {
    await requestAPI<ICliReply>('api/cli', { method: 'DELETE' });
    Notification.info('Terminals no longer use this Coder login.', { autoClose: 4000 });
  } catch (error) {
    Notification.error(`Coder: ${errorText(error)}`, { autoClose: 10_000 });
  }
}
