/**
 * The JupyterLab / Notebook 7 plugins: the widget's view (registered with the widget manager)
 * and the status-bar item with its commands.
 */

import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IStatusBar } from '@jupyterlab/statusbar';

import { coderStatus } from './shared';
import {
  CoderStatusItem,
  CommandIDs,
  login,
  logout,
  shareWithTerminals,
  stopSharingWithTerminals,
  toggle
} from './statusbar';
import { MODULE_NAME, MODULE_VERSION } from './version';

/** Registers `LoginModel` / `LoginView` under the module `coder-jupyter`. */
export const widgetPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coder-jupyter:widget',
  description: 'The Coder login widget view.',
  requires: [IJupyterWidgetRegistry],
  autoStart: true,
  activate: (_app: JupyterFrontEnd, registry: IJupyterWidgetRegistry): void => {
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      exports: async () => import('./widget')
    });
  }
};

/** The status-bar item (where the front end has a status bar) and the palette commands. */
export const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'coder-jupyter:status',
  description: 'Coder login status in the status bar; log in / log out commands.',
  optional: [IStatusBar, ICommandPalette],
  autoStart: true,
  activate: (app: JupyterFrontEnd, statusBar: IStatusBar | null, palette: ICommandPalette | null): void => {
    const status = coderStatus(); // shared with the Coder panel
    const { commands } = app;
    const category = 'Coder';

    commands.addCommand(CommandIDs.login, {
      label: 'Log in to Coder',
      caption: "Open Coder's consent page in a popup and log this Jupyter server in",
      isEnabled: () => status.current?.status !== 'unconfigured',
      execute: () => login(status)
    });
    commands.addCommand(CommandIDs.logout, {
      label: 'Log out of Coder',
      caption: 'Revoke the Coder session and forget the stored credentials',
      isEnabled: () => status.current !== null && ['logged_in', 'expired', 'error'].includes(status.current.status),
      execute: () => logout(status)
    });
    commands.addCommand(CommandIDs.cliTerminals, {
      label: 'Use this login in terminals',
      caption: '`coder` in JupyterLab terminals uses this Coder login (kept fresh, removed at logout)',
      isEnabled: () => status.current?.status === 'logged_in',
      execute: () => shareWithTerminals()
    });
    commands.addCommand(CommandIDs.cliOff, {
      label: 'Stop using this login in terminals',
      caption: 'Remove the Coder CLI login this extension wrote for terminals',
      isEnabled: () => status.current !== null && status.current.status !== 'unconfigured',
      execute: () => stopSharingWithTerminals()
    });
    status.subscribe(() => commands.notifyCommandChanged());

    if (palette) {
      palette.addItem({ command: CommandIDs.login, category });
      palette.addItem({ command: CommandIDs.logout, category });
      palette.addItem({ command: CommandIDs.cliTerminals, category });
      palette.addItem({ command: CommandIDs.cliOff, category });
    }
    if (statusBar) {
      const item = new CoderStatusItem(status, () => void toggle(status));
      statusBar.registerStatusItem('coder-jupyter:status', {
        item,
        align: 'left',
        rank: 1000,
        isActive: () => true
      });
    }
  }
};
