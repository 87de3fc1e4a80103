/**
 * coder-jupyter: the JupyterLab / Notebook 7 extension of coder_jupyter.
 */

import { statusPlugin, widgetPlugin } from './plugin';

export { MODULE_NAME, MODULE_VERSION } from './version';

export default [widgetPlugin, statusPlugin];
