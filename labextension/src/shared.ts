/**
 * The one {@link CoderStatus} of the page: the status bar, its commands and the Coder panel
 * share it, so they always agree on the login state and poll the server once.
 */

import { CoderStatus } from './statusbar';

let status: CoderStatus | null = null;

/** The page's shared login status (created on first use). */
export function coderStatus(): CoderStatus {
  if (status === null) {
    status = new CoderStatus();
  }
  return status;
}
