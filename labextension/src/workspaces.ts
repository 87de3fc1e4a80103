/**
 * The Coder panel's data: the server extension's workspace routes (`{base_url}coder/api/workspaces…`)
 * and a paged, sparse cache of the rows, so a deployment with thousands of workspaces is loaded
 * one page at a time, as the list scrolls.
 */

import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './request';

/** A build as the server extension projects it (public fields only). */
export interface IBuild {
  id: string;
  number: number;
  transition: string;
  status: string;
  job_status: string;
  error: string | null;
  done: boolean;
  failed: boolean;
  created_at: string | null;
  /** The failed build's last log lines (only on `GET workspaces/{id}`). */
  log_tail?: string[];
}

/** An app of a workspace the browser can open. */
export interface IApp {
  slug: string;
  name: string;
  agent: string;
  url: string;
  health: string | null;
}

/** A row of the panel. */
export interface IWorkspace {
  id: string;
  name: string;
  owner: string;
  full_name: string;
  status: string;
  template: string;
  template_display_name: string;
  outdated: boolean;
  healthy: boolean;
  last_used_at: string | null;
  dashboard_url: string;
  build: IBuild;
  /** Only on `GET workspaces/{id}`. */
  apps?: IApp[];
}

/** `GET coder/api/workspaces`. */
export interface IWorkspacePage {
  deployment: string;
  query: string;
  offset: number;
  limit: number;
  count: number;
  workspaces: IWorkspace[];
}

/** The actions the server extension accepts. */
export type Action = 'start' | 'stop' | 'restart';

/** Rows per request (the server accepts up to 200). */
export const PAGE_SIZE = 50;

/** Statuses in which a build is still running: the panel keeps polling. */
export const BUSY_STATUSES = new Set(['pending', 'starting', 'stopping', 'canceling', 'deleting']);

/** One page of workspaces matching Coder's search `query`. */
export function fetchPage(query: string, offset: number, limit = PAGE_SIZE): Promise<IWorkspacePage> {
  const params = new URLSearchParams({ q: query, offset: String(offset), limit: String(limit) });
  return requestAPI<IWorkspacePage>(`api/workspaces?${params.toString()}`);
}

/** One workspace with its apps (and its failed build's log tail). */
export function fetchWorkspace(id: string): Promise<IWorkspace> {
  return requestAPI<IWorkspace>(`api/workspaces/${encodeURIComponent(id)}`);
}

/** Queue a start / stop / restart; the answer is the new build, not yet done. */
export async function act(id: string, action: Action): Promise<IBuild> {
  const reply = await requestAPI<{ build: IBuild }>(`api/workspaces/${encodeURIComponent(id)}/${action}`, {
    method: 'POST',
    body: ''
  });
  return reply.build;
}

/** What went wrong with a request, for the panel: its text, and whether to log in / back off. */
export interface IFailure {
  message: string;
  loginRequired: boolean;
  /** Seconds to wait (429 from Coder), or `null`. */
  retryAfter: number | null;
}

/** Turn a thrown request error into an {@link IFailure}. */
export async function describeFailure(error: unknown): Promise<IFailure> {
  if (error instanceof ServerConnection.ResponseError) {
    const { response } = error;
    let loginRequired = false;
    if (response.status === 409) {
      try {
        const body = (await response.clone().json()) as { login_required?: boolean };
        loginRequired = body.login_required === true;
      } catch {
        loginRequired = false;
      }
    }
    const header = response.headers.get('Retry-After');
    const retryAfter = response.status === 429 ? Math.max(1, Number(header) || 30) : null;
    return {
      message: error.message || `${response.status} ${response.statusText}`,
      loginRequired,
      retryAfter
    };
  }
  return { message: error instanceof Error ? error.message : String(error), loginRequired: false, retryAfter: null };
}

/**
 * The rows of one query, loaded page by page on demand and kept sparse: only the pages the
 * list has shown are in memory. A new query or a full refresh starts a new generation; answers
 * of an older generation are dropped.
 */
export class WorkspaceListing {
  constructor(private readonly _onChange: () => void) {}

  /** The Coder search query these rows match. */
  get query(): string {
    return this._query;
  }

  /** How many workspaces match (`null` before the first page arrived). */
  get count(): number | null {
    return this._count;
  }

  /** The deployment the rows come from. */
  get deployment(): string | null {
    return this._deployment;
  }

  /** The last failure, or `null` after a successful page. */
  get failure(): IFailure | null {
    return this._failure;
  }

  /** Whether any page is being fetched. */
  get loading(): boolean {
    return this._loading.size > 0;
  }

  /** Start over with `query` (the first page is fetched at once). */
  reset(query: string): Promise<void> {
    this._query = query;
    this._generation += 1;
    this._pages.clear();
    this._loading.clear();
    this._count = null;
    this._failure = null;
    this._onChange();
    return this.ensure(0);
  }

  /** The row at `index`, or `undefined` while its page is not loaded. */
  row(index: number): IWorkspace | undefined {
    return this._pages.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
  }

  /** Make sure the page holding row `index` is (being) loaded. */
  ensure(index: number): Promise<void> {
    const page = Math.floor(index / PAGE_SIZE);
    if (this._pages.has(page) || this._loading.has(page)) {
      return Promise.resolve();
    }
    return this._load(page);
  }

  /** Fetch again the loaded pages among `pages` (the visible ones); others are dropped. */
  async refresh(pages: number[]): Promise<void> {
    const keep = new Set(pages.length > 0 ? pages : [0]);
    for (const page of [...this._pages.keys()]) {
      if (!keep.has(page)) {
        this._pages.delete(page);
      }
    }
    await Promise.all([...keep].map(page => this._load(page)));
  }

  /** Replace a row (after polling one workspace) wherever it is loaded. */
  update(workspace: IWorkspace): void {
    for (const rows of this._pages.values()) {
      const i = rows.findIndex(row => row.id === workspace.id);
      if (i >= 0) {
        rows[i] = { ...workspace, apps: undefined };
        this._onChange();
      }
    }
  }

  private async _load(page: number): Promise<void> {
    const generation = this._generation;
    this._loading.add(page);
    this._onChange();
    try {
      const reply = await fetchPage(this._query, page * PAGE_SIZE);
      if (generation !== this._generation) {
        return;
      }
      this._pages.set(page, reply.workspaces);
      this._count = reply.count;
      this._deployment = reply.deployment;
      this._failure = null;
    } catch (error) {
      if (generation !== this._generation) {
        return;
      }
      this._failure = await describeFailure(error);
    } finally {
      if (generation === this._generation) {
        this._loading.delete(page);
        this._onChange();
      }
    }
  }

  private _query = 'owner:me';
  private _generation = 0;
  private _count: number | null = null;
  private _deployment: string | null = null;
  private _failure: IFailure | null = null;
  private _pages = new Map<number, IWorkspace[]>();
  private _loading = new Set<number>();
}
