/**
 * coder-jupyter: the JupyterLab / Notebook 7 extension of coder_jupyter.
 */

import { panelPlugin } from './panel';
import { statusPlugin, widgetPlugin } from './plugin';

export { MODULE_NAME, MODULE_VERSION } from './version';

export default [widgetPlugin, statusPlugin, panelPlugin];
