/**
 * The login widget's model and view. The Python side (`coder_jupyter.widget.LoginWidget`) owns
 * the state; the view only reflects it and turns clicks into custom messages:
 *
 * - view → kernel: `{event: "login", redirect_uri, server_route, skip}` (server_route: the
 *   page's `coder/api/status` probe answered; skip: paths the user said did not work),
 *   `{event: "probed", ok}`, `{event: "paste", url}` (a message, never state; cleared at once),
 *   `{event: "paste_instead"}`, `{event: "cancel"}`, `{event: "logout"}` (after
 *   the same confirmation as the status bar's),
 *   `{event: "token", token}` (a message, never state; the field is cleared at once),
 *   `{event: "check"}` (the callback page said the login ended).
 * - kernel → view: `{event: "open", url}` (navigate the popup), `{event: "close_popup"}`,
 *   `{event: "probe", url, expect}` (fetch the kernel's listener, answer `probed`).
 */

import { DOMWidgetModel, DOMWidgetView, ISerializers } from '@jupyter-widgets/base';

import { el } from './dom';
import {
  STATUS_CHANGED_EVENT,
  announceStatusChange,
  callbackUri,
  closePopup,
  confirmLogout,
  isCallbackMessage,
  isWebUrl,
  navigatePopup,
  openInPopup,
  openPopup
} from './login';
import { probeListener, probeServerRoute } from './request';
import { MODULE_NAME, MODULE_VERSION } from './version';

/** The widget's states (the Python trait `status`). */
export type LoginStatus = 'logged_out' | 'waiting' | 'logged_in' | 'expired' | 'error' | 'cancelled';

const BADGES: Record<LoginStatus, string> = {
  logged_out: 'Logged out',
  waiting: 'Waiting for the browser',
  logged_in: 'Logged in',
  expired: 'Expired',
  error: 'Error',
  cancelled: 'Login cancelled'
};

/** What a widget whose kernel is gone says (its comm is closed: clicks would reach nobody). */
const KERNEL_GONE =
  "This widget's kernel has restarted or stopped, so its buttons no longer work — run the cell again.";

/** The kernel-side objects a view can watch (duck-typed: JupyterLab's and Notebook 7's managers). */
interface ISignalLike<T> {
  connect(slot: (sender: unknown, value: T) => void): unknown;
  disconnect(slot: (sender: unknown, value: T) => void): unknown;
}
interface IManagerLike {
  context?: { sessionContext?: { kernelChanged?: ISignalLike<unknown>; statusChanged?: ISignalLike<string> } };
}

// Mirrors METHOD_WORDS in coder_jupyter/_public.py (tests/unit/test_public.py keeps them equal).
const METHODS: Record<string, string> = {
  oauth: 'OAuth',
  token: 'API token',
  env: 'CODER_SESSION_TOKEN',
  cli: 'Coder CLI session'
};

/** The model: synced traits only (never a secret). */
export class LoginModel extends DOMWidgetModel {
  defaults(): Backbone.ObjectHash {
    return {
      ...super.defaults(),
      _model_name: LoginModel.model_name,
      _model_module: LoginModel.model_module,
      _model_module_version: LoginModel.model_module_version,
      _view_name: LoginModel.view_name,
      _view_module: LoginModel.view_module,
      _view_module_version: LoginModel.view_module_version,
      deployment_url: '',
      status: 'logged_out',
      username: '',
      method: '',
      expires_at: null,
      error: '',
      step: '',
      timeout_at: null,
      oauth_available: null,
      scope_summary: '',
      login_path: '',
      path_note: ''
    };
  }

  static serializers: ISerializers = { ...DOMWidgetModel.serializers };

  static model_name = 'LoginModel';
  static model_module = MODULE_NAME;
  static model_module_version = MODULE_VERSION;
  static view_name = 'LoginView';
  static view_module = MODULE_NAME;
  static view_module_version = MODULE_VERSION;
}

function button(label: string, className: string, onClick: () => void): HTMLButtonElement {
  const node = el('button', `jp-mod-styled ${className}`, label);
  node.type = 'button';
  node.addEventListener('click', event => {
    event.preventDefault();
    onClick();
  });
  return node;
}

function formatRemaining(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The view: header (deployment + badge), message, step list, actions, API-token form. */
export class LoginView extends DOMWidgetView {
  private _badge!: HTMLSpanElement;
  private _deployment!: HTMLAnchorElement;
  private _message!: HTMLDivElement;
  private _steps!: HTMLOListElement;
  private _countdown!: HTMLSpanElement;
  private _error!: HTMLDivElement;
  private _popupNote!: HTMLDivElement;
  private _loginButton!: HTMLButtonElement;
  private _cancelButton!: HTMLButtonElement;
  private _logoutButton!: HTMLButtonElement;
  private _tokenToggle!: HTMLButtonElement;
  private _tokenForm!: HTMLFormElement;
  private _tokenInput!: HTMLInputElement;
  private _tokenHint!: HTMLDivElement;
  private _pathNote!: HTMLDivElement;
  private _pathText!: HTMLSpanElement;
  private _nextPathLink!: HTMLButtonElement;
  private _pasteForm!: HTMLFormElement;
  private _pasteInput!: HTMLInputElement;
  private _pasteError!: HTMLDivElement;
  private _skip: string[] = [];
  private _seenSteps: string[] = [];
  private _tokenOpen = false;
  private _shownStatus: LoginStatus | null = null;
  private _timer: number | null = null;
  private _announcing = false;
  private _kernelGone = false;
  private _unwatchKernel: (() => void) | null = null;
  private _onWindowMessage = (event: MessageEvent): void => {
    if (isCallbackMessage(event)) {
      this.send({ event: 'check' });
    }
  };
  /** Another widget or the status bar logged in or out: ask the kernel to re-read the store. */
  private _onStatusChanged = (): void => {
    if (!this._announcing) {
      this.send({ event: 'check' });
    }
  };

  render(): void {
    this.el.classList.add('coder-jupyter-login');

    const header = el('div', 'cj-header');
    header.append(el('span', 'cj-brand', 'Coder'));
    this._deployment = el('a', 'cj-deployment');
    this._deployment.target = '_blank';
    this._deployment.rel = 'noopener noreferrer';
    header.append(this._deployment);
    this._badge = el('span', 'cj-badge');
    header.append(this._badge);

    this._message = el('div', 'cj-message');
    this._steps = el('ol', 'cj-steps');
    this._countdown = el('span', 'cj-countdown');
    this._error = el('div', 'cj-error');
    this._error.setAttribute('role', 'alert');
    this._popupNote = el('div', 'cj-popup-note');

    const actions = el('div', 'cj-actions');
    this._loginButton = button('Log in', 'jp-mod-accept cj-login', () => this._login());
    this._cancelButton = button('Cancel', 'jp-mod-reject cj-cancel', () => this._cancel());
    this._logoutButton = button('Log out', 'cj-quiet cj-logout', () => void this._logout());
    this._tokenToggle = el('button', 'cj-link cj-token-toggle', 'Use an API token instead');
    this._tokenToggle.type = 'button';
    this._tokenToggle.addEventListener('click', () => {
      this._tokenOpen = !this._tokenOpen;
      this._update();
      if (this._tokenOpen) {
        this._tokenInput.focus();
      }
    });
    actions.append(this._loginButton, this._cancelButton, this._logoutButton, this._countdown, this._tokenToggle);

    this._tokenForm = el('form', 'cj-token');
    this._tokenForm.autocomplete = 'off';
    this._tokenInput = el('input', 'jp-mod-styled cj-token-input');
    this._tokenInput.type = 'password';
    this._tokenInput.autocomplete = 'off';
    this._tokenInput.spellcheck = false;
    this._tokenInput.placeholder = 'Paste a Coder API token';
    this._tokenInput.setAttribute('aria-label', 'Coder API token');
    const submit = el('button', 'jp-mod-styled jp-mod-accept cj-token-submit', 'Log in with token');
    submit.type = 'submit';
    this._tokenForm.append(this._tokenInput, submit);
    this._tokenHint = el('div', 'cj-hint');
    this._tokenForm.append(this._tokenHint);
    this._tokenForm.addEventListener('submit', event => {
      event.preventDefault();
      this._sendToken();
    });

    this._renderPathParts();

    this.el.append(
      header,
      this._message,
      this._steps,
      this._pathNote,
      this._pasteForm,
      this._error,
      this._popupNote,
      actions,
      this._tokenForm
    );

    this.listenTo(this.model, 'change', this._update);
    this.listenTo(this.model, 'msg:custom', this._onCustom);
    window.addEventListener('message', this._onWindowMessage);
    window.addEventListener(STATUS_CHANGED_EVENT, this._onStatusChanged);
    this._watchKernel();
    this._update();
  }

  remove(): void {
    window.removeEventListener('message', this._onWindowMessage);
    window.removeEventListener(STATUS_CHANGED_EVENT, this._onStatusChanged);
    this._stopTimer();
    this._unwatchKernel?.();
    super.remove();
  }

  /**
   * Notice when this widget's kernel goes away: the widget manager marks the model's comm dead
   * when the kernel restarts, the comm closes when the kernel closes it, and the notebook's
   * session changes kernel (or reports it dead) on shutdown.
   */
  private _watchKernel(): void {
    const gone = (): void => {
      if (!this._kernelGone) {
        this._kernelGone = true;
        this._update();
      }
    };
    this.listenTo(this.model, 'comm_live_update', () => {
      if (!this.model.comm_live) {
        gone();
      }
    });
    this.listenTo(this.model, 'comm:close', gone);
    const session = (this.model.widget_manager as unknown as IManagerLike).context?.sessionContext;
    const onStatus = (_: unknown, status: string): void => {
      if (status === 'dead' || status === 'restarting' || status === 'autorestarting') {
        gone();
      }
    };
    const onKernel = (): void => gone();
    session?.statusChanged?.connect(onStatus);
    session?.kernelChanged?.connect(onKernel);
    this._unwatchKernel = () => {
      session?.statusChanged?.disconnect(onStatus);
      session?.kernelChanged?.disconnect(onKernel);
    };
    if (this.model.comm === undefined || this.model.comm === null || !this.model.comm_live) {
      this._kernelGone = true; // restored from a saved notebook, or already disconnected
    }
  }

  /** Kernel gone: say so, and disable every control (a click would reach nobody). */
  private _renderKernelGone(): void {
    this.el.dataset.kernel = this._kernelGone ? 'gone' : 'live';
    for (const control of this.el.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input')) {
      control.disabled = this._kernelGone;
    }
    if (this._kernelGone) {
      this._stopTimer();
      this._countdown.textContent = '';
      this._steps.hidden = true;
      this._badge.textContent = 'Kernel gone';
      this._badge.className = 'cj-badge cj-badge-gone';
      this._message.hidden = false;
      this._message.textContent = KERNEL_GONE;
      this._message.className = 'cj-message cj-kernel-gone';
      this._message.title = '';
      this._error.hidden = true;
    } else {
      this._message.className = 'cj-message';
    }
  }

  private async _logout(): Promise<void> {
    const deployment = this.model.get('deployment_url') as string;
    const username = this.model.get('username') as string;
    if (await confirmLogout(deployment || null, username || null)) {
      this.send({ event: 'logout' });
    }
  }

  private _login(skip: string[] = []): void {
    // Open the popup during the click itself, or the browser's popup blocker refuses it.
    const popup = openPopup();
    this._showPopupNote(popup === null ? 'blocked' : 'none');
    this._seenSteps = [];
    this._skip = skip;
    // Then find out whether the Jupyter server has our callback route; the kernel chooses the path.
    void probeServerRoute().then(serverRoute => {
      this.send({ event: 'login', redirect_uri: callbackUri(), server_route: serverRoute, skip });
    });
  }

  /** The one line saying which way the login is taking, "Didn't work?", and the paste field. */
  private _renderPathParts(): void {
    this._pathNote = el('div', 'cj-path');
    this._pathText = el('span', 'cj-path-text');
    this._nextPathLink = el('button', 'cj-link cj-next-path', "Didn't work?");
    this._nextPathLink.type = 'button';
    this._nextPathLink.addEventListener('click', () => this._nextPath());
    this._pathNote.append(this._pathText, ' ', this._nextPathLink);

    this._pasteForm = el('form', 'cj-paste');
    this._pasteForm.autocomplete = 'off';
    this._pasteInput = el('input', 'jp-mod-styled cj-paste-input');
    this._pasteInput.type = 'password';
    this._pasteInput.autocomplete = 'off';
    this._pasteInput.spellcheck = false;
    this._pasteInput.placeholder = 'http://127.0.0.1:…/callback?code=…';
    this._pasteInput.setAttribute(
      'aria-label',
      'Paste the address your browser shows after you click Allow (it starts with http://127.0.0.1…)'
    );
    const submit = el('button', 'jp-mod-styled jp-mod-accept cj-paste-submit', 'Finish login');
    submit.type = 'submit';
    const label = el(
      'div',
      'cj-hint',
      'Paste the address your browser shows after you click Allow (it starts with http://127.0.0.1…).'
    );
    this._pasteError = el('div', 'cj-paste-error');
    this._pasteForm.append(label, this._pasteInput, submit, this._pasteError);
    this._pasteForm.addEventListener('submit', event => {
      event.preventDefault();
      const url = this._pasteInput.value.trim();
      // Cleared before anything else: the address (it holds the code) lives here only until sent.
      this._pasteInput.value = '';
      if (url.length > 0) {
        this.send({ event: 'paste', url });
      }
    });
  }

  /** "Didn't work?": the next path (server → kernel listener → paste → API token). */
  private _nextPath(): void {
    const path = this.model.get('login_path') as string;
    if (path === 'server') {
      this._login([...this._skip, 'server']);
    } else if (path === 'loopback') {
      this.send({ event: 'paste_instead' });
    } else if (path === 'paste') {
      closePopup();
      this._tokenOpen = true;
      this.send({ event: 'cancel' });
    }
  }

  private _updatePathParts(waiting: boolean): void {
    const path = this.model.get('login_path') as string;
    const note = this.model.get('path_note') as string;
    this._pathNote.hidden = !waiting || note.length === 0;
    this._pathNote.dataset.path = path;
    this._pathText.textContent = note;
    this._nextPathLink.hidden = !['server', 'loopback', 'paste'].includes(path);
    const pasting = waiting && path === 'paste';
    this._pasteForm.hidden = !pasting;
    if (!pasting) {
      this._pasteInput.value = '';
    }
    const error = this.model.get('error') as string;
    this._pasteError.textContent = pasting ? error : '';
    this._pasteError.hidden = !pasting || error.length === 0;
    if (path === 'token' && !waiting && this.model.get('status') !== 'logged_in') {
      this._tokenOpen = true;
    }
  }

  private _cancel(): void {
    closePopup();
    this._showPopupNote('none');
    this.send({ event: 'cancel' });
  }

  private _sendToken(): void {
    const token = this._tokenInput.value.trim();
    // Cleared before anything else: the token lives in this field only until it is sent.
    this._tokenInput.value = '';
    if (token.length === 0) {
      this._tokenInput.focus();
      return;
    }
    this.send({ event: 'token', token });
  }

  private _onCustom(content: { event?: string; url?: string; expect?: string }): void {
    if (content.event === 'open' && typeof content.url === 'string' && isWebUrl(content.url)) {
      const url = content.url;
      if (navigatePopup(url)) {
        this._showPopupNote('fallback', url);
      } else {
        this._showPopupNote('blocked', url);
      }
    } else if (content.event === 'probe' && typeof content.url === 'string') {
      const expect = typeof content.expect === 'string' ? content.expect : '';
      void probeListener(content.url, expect).then(ok => this.send({ event: 'probed', ok }));
    } else if (content.event === 'close_popup') {
      closePopup();
      this._showPopupNote('none');
    }
  }

  /** Below the message: nothing, a "popup blocked" notice, or a quiet "no popup?" link. */
  private _showPopupNote(kind: 'none' | 'blocked' | 'fallback', url?: string): void {
    const note = this._popupNote;
    note.replaceChildren();
    note.dataset.kind = kind;
    if (kind === 'none' || (kind === 'blocked' && url === undefined)) {
      note.hidden = kind === 'none';
      if (kind === 'blocked') {
        note.textContent = 'Your browser blocked the login popup; a link will appear here in a moment.';
      }
      return;
    }
    note.hidden = false;
    const link = el('a', 'cj-popup-link', kind === 'blocked' ? "Open Coder's consent page" : 'open it again');
    link.href = url as string;
    link.target = '_blank';
    link.addEventListener('click', event => {
      if (openInPopup(url as string)) {
        event.preventDefault();
        this._showPopupNote('fallback', url);
      }
    });
    if (kind === 'blocked') {
      note.append('Your browser blocked the login popup. ', link, ' to continue.');
    } else {
      note.append('No popup? Check behind this window, or ', link, '.');
    }
  }

  private _update(): void {
    const status = this.model.get('status') as LoginStatus;
    const deployment = this.model.get('deployment_url') as string;
    const username = this.model.get('username') as string;
    const method = this.model.get('method') as string;
    const error = this.model.get('error') as string;
    const step = this.model.get('step') as string;
    const oauth = this.model.get('oauth_available') as boolean | null;
    const waiting = status === 'waiting';
    if (this._shownStatus !== null && this._shownStatus !== status) {
      this._announcing = true; // dispatch is synchronous: our own listener sees the flag
      try {
        announceStatusChange();
      } finally {
        this._announcing = false;
      }
    }
    this._shownStatus = status;

    this.el.dataset.status = status;
    this._badge.textContent = BADGES[status] ?? status;
    this._badge.className = `cj-badge cj-badge-${status}`;
    this._deployment.textContent = deployment || 'no deployment chosen';
    if (deployment) {
      this._deployment.href = deployment;
    } else {
      this._deployment.removeAttribute('href');
    }

    this._message.replaceChildren();
    if (status === 'logged_in') {
      this._message.append('Logged in as ');
      this._message.append(el('strong', 'cj-user', username || 'an unnamed user'));
      if (method) {
        this._message.append(el('span', 'cj-method', ` · ${METHODS[method] ?? method}`));
      }
      const scope = this.model.get('scope_summary') as string; // what the OAuth login may do
      if (scope) this._message.append(el('div', 'cj-scope', `Allowed: ${scope}`));
      const expiresAt = this.model.get('expires_at') as number | null;
      this._message.title =
        expiresAt !== null && method !== 'oauth'
          ? `Expires ${new Date(expiresAt * 1000).toLocaleString()}`
          : method === 'oauth'
            ? 'Renewed automatically while the kernel runs.'
            : '';
    } else if (status === 'expired') {
      this._message.textContent = 'Your session has expired. Log in again to continue.';
    } else if (status === 'cancelled') {
      this._message.textContent = error || 'Login cancelled; nothing was saved.';
    } else if (oauth === false) {
      this._message.textContent = 'This deployment does not offer OAuth2 login: log in with an API token.';
    } else {
      // Logged out; `error` says why when Coder ended the session (refresh token refused).
      this._message.textContent = error || 'Not logged in.';
    }

    this._message.hidden = waiting || (status === 'error' && oauth !== false);
    this._renderSteps(waiting, step || 'Starting the login…');
    this._updatePathParts(waiting);

    this._error.textContent = status === 'error' ? error || 'Something went wrong.' : '';
    this._error.hidden = status !== 'error';
    if (!waiting && this._popupNote.dataset.kind !== 'none') {
      this._showPopupNote('none');
    }

    const loggedIn = status === 'logged_in';
    this._loginButton.hidden = waiting || loggedIn || oauth === false;
    this._loginButton.textContent =
      status === 'expired' || status === 'error' || status === 'cancelled' ? 'Log in again' : 'Log in';
    this._cancelButton.hidden = !waiting;
    this._logoutButton.hidden = !(loggedIn || status === 'expired');
    const tokenAllowed = !waiting && !loggedIn;
    const tokenOpen = tokenAllowed && (this._tokenOpen || oauth === false);
    this._tokenToggle.hidden = !tokenAllowed || oauth === false;
    this._tokenToggle.textContent = this._tokenOpen ? 'Hide the API token field' : 'Use an API token instead';
    this._tokenForm.hidden = !tokenOpen;
    if (!tokenOpen) {
      this._tokenInput.value = '';
    }
    this._tokenHint.replaceChildren();
    this._tokenHint.append('Create one with ');
    this._tokenHint.append(el('code', '', 'coder tokens create'));
    if (deployment) {
      const tokens = el('a', '', 'Account → Tokens');
      tokens.href = `${deployment.replace(/\/+$/, '')}/settings/tokens`;
      tokens.target = '_blank';
      tokens.rel = 'noopener noreferrer';
      this._tokenHint.append(' or in ', tokens);
    }
    this._tokenHint.append('. It goes to the kernel only and is never saved in the notebook.');

    if (waiting) {
      this._startTimer();
    } else {
      this._stopTimer();
    }
    this._tick();
    this._renderKernelGone();
  }

  /** The steps seen during this login: earlier ones ticked, the current one spinning. */
  private _renderSteps(waiting: boolean, step: string): void {
    if (!waiting) {
      this._seenSteps = [];
      this._steps.hidden = true;
      this._steps.replaceChildren();
      return;
    }
    if (step && this._seenSteps[this._seenSteps.length - 1] !== step) {
      this._seenSteps.push(step);
    }
    this._steps.hidden = false;
    this._steps.replaceChildren(
      ...this._seenSteps.map((text, index) => {
        const current = index === this._seenSteps.length - 1;
        const item = el('li', current ? 'cj-step cj-step-current' : 'cj-step cj-step-done', text);
        return item;
      })
    );
  }

  private _tick(): void {
    const timeoutAt = this.model.get('timeout_at') as number | null;
    if (this.model.get('status') !== 'waiting' || timeoutAt === null) {
      this._countdown.textContent = '';
      return;
    }
    const left = timeoutAt - Date.now() / 1000;
    this._countdown.textContent = `${formatRemaining(left)} left`;
    this._countdown.title = 'The login is abandoned when this reaches 0:00.';
  }

  private _startTimer(): void {
    if (this._timer === null) {
      this._timer = window.setInterval(() => this._tick(), 1000);
    }
  }

  private _stopTimer(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }
}
