// Mocha settings of the Kubernetes suite. One shared cluster comes from the root-hook plugin in
// fixture.ts. K8S_TESTS (comma-separated files) narrows the run, because mocha adds files given on
// the command line to the configured spec instead of replacing it.
/* global module, process */
module.exports = {
  "node-option": ["import=tsx"],
  extension: ["ts"],
  spec: process.env.K8S_TESTS ? process.env.K8S_TESTS.split(",") : ["test/k8s/**/*.test.ts"],
  require: ["test/k8s/fixture.ts"],
  timeout: 120000,
  slow: 10000,
  reporter: "spec",
  exit: true,
};
