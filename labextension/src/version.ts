/**
 * The package's name and version, read from package.json: the single source the Python side
 * (`coder_jupyter.widget`) reads too, so the widget's module version always matches.
 */

// eslint-disable-next-line @typescript-eslint/no-var-requires
declare const require: (path: string) => { name: string; version: string };
const data = require('../package.json');

/** The npm package name and the widget module name: `coder-jupyter`. */
export const MODULE_NAME: string = data.name;

/** The npm package version; the Python widget sends the same `_model_module_version`. */
export const MODULE_VERSION: string = data.version;
