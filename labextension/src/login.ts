/**
 * What the widget view and the status-bar command share: the callback URL, the login popup and
 * the callback page's message.
 *
 * Popup blockers allow `window.open` only during the click itself, so the popup is opened blank
 * at once and navigated to Coder's consent page when the authorization URL arrives.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';

/** The popup's window name: a second login reuses the same window. */
export const POPUP_NAME = 'coder-jupyter-login';

const POPUP_FEATURES = 'popup,width=600,height=760';

/** The `source` field of the callback page's `postMessage`. */
export const MESSAGE_SOURCE = 'coder-jupyter';

let popup: Window | null = null;

/**
 * The OAuth redirect URI: this page's real origin + Jupyter's base URL + `coder/oauth/callback`,
 * e.g. `https://hub.example.com/user/alice/coder/oauth/callback`.
 */
export function callbackUri(): string {
  const base = new URL(PageConfig.getOption('baseUrl') || '/', window.location.origin);
  const path = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${path}/coder/oauth/callback`;
}

/**
 * Open (or reuse) the blank login popup. Call synchronously from a click handler.
 *
 * @returns the popup, or `null` when the browser blocked it.
 */
export function openPopup(): Window | null {
  popup = window.open('about:blank', POPUP_NAME, POPUP_FEATURES);
  return popup;
}

/**
 * Send the open popup to `url`.
 *
 * @returns `false` when there is no open popup (blocked or closed by the user): show a link.
 */
export function navigatePopup(url: string): boolean {
  if (popup === null || popup.closed || !isWebUrl(url)) {
    return false;
  }
  popup.location.href = url;
  return true;
}

/** Open `url` in the login popup from a click (the fallback link of a blocked popup). */
export function openInPopup(url: string): boolean {
  if (!isWebUrl(url)) {
    return false;
  }
  popup = window.open(url, POPUP_NAME, POPUP_FEATURES);
  return popup !== null;
}

/**
 * Only http(s) addresses are opened: the about:blank popup shares Jupyter's origin, so a
 * `javascript:` URL navigated into it would run with the page's rights.
 */
export function isWebUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/** Close the login popup if it is still open. */
export function closePopup(): void {
  if (popup !== null && !popup.closed) {
    popup.close();
  }
  popup = null;
}

/** The callback page's message, as posted by the server extension's page. */
export interface ICallbackMessage {
  source: typeof MESSAGE_SOURCE;
  ok: boolean;
  outcome: string;
}

/**
 * Is `event` the callback page telling us the login ended? Only messages from this page's own
 * origin (where the server extension's callback page lives) with our `source` are accepted.
 */
export function isCallbackMessage(event: MessageEvent): event is MessageEvent<ICallbackMessage> {
  if (event.origin !== window.location.origin) {
    return false;
  }
  const data: unknown = event.data;
  return data !== null && typeof data === 'object' && (data as { source?: unknown }).source === MESSAGE_SOURCE;
}

/**
 * Fired on `window` when a login widget's state changes (log in or out from a notebook), so the
 * status-bar item can refresh at once instead of at its next poll. Carries no data.
 */
export const STATUS_CHANGED_EVENT = 'coder-jupyter:status-changed';

export function announceStatusChange(): void {
  window.dispatchEvent(new Event(STATUS_CHANGED_EVENT));
}

/** `https://coder.example.com/` → `coder.example.com` (the address itself when unparsable). */
export function hostOf(url: string | null | undefined): string {
  if (!url) {
    return 'Coder';
  }
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/**
 * The one logout confirmation, asked by the status bar and the login widget alike: a calm
 * dialog whose default button keeps the session.
 *
 * @returns whether the user chose to log out.
 */
export async function confirmLogout(deployment: string | null, username: string | null): Promise<boolean> {
  const who = username ? ` as ${username}` : '';
  const result = await showDialog({
    title: 'Log out of Coder?',
    body: `You are logged in to ${hostOf(deployment)}${who}. Logging out revokes this session; every notebook using it will need to log in again.`,
    buttons: [Dialog.cancelButton({ label: 'Stay logged in' }), Dialog.okButton({ label: 'Log out' })],
    defaultButton: 0
  });
  return result.button.accept;
}
