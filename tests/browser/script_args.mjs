// What the browser scripts share: their `--flag value` arguments and the
// Chromium they drive (Debian's, found on PATH).

import fs from "node:fs";
import path from "node:path";

// `--flag value` pairs over `defaults`; every flag in `required` must be
// given. Errors end with `usage`.
export function parseArgs(argv, { defaults, required, usage }) {
  const args = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (!flag.startsWith("--") || value === undefined) throw new Error(`bad argument ${flag}\n${usage}`);
    args[flag.slice(2)] = value;
  }
  for (const name of required) {
    if (!args[name]) throw new Error(`--${name} is required\n${usage}`);
  }
  return args;
}

// The first `chromium` on PATH.
export function findChromium() {
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    const candidate = path.join(dir, "chromium");
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error("no chromium on PATH: install Debian's chromium (scripts/install-test-deps.sh does)");
}
