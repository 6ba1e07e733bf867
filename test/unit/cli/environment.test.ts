import assert from "node:assert/strict";
import { devCommand } from "../../../dev/main.js";
import { environmentVariable, parseCommand, UsageError, type Command } from "../../../lib/command-line.js";
import { nodeCommand } from "../../../node/main.js";
import { operatorCommand } from "../../../operator/main.js";

/** A value each flag accepts that differs from its default, chosen by the name of its argument. */
function sampleValue(flags: string): string {
  if (flags.includes("<port>")) return "18090";
  if (flags.includes("<on|off>")) return "off";
  if (/<(n|q)>/.test(flags)) return "4";
  return "from-the-environment";
}

const commands: Array<[string, () => Command]> = [
  ["node", nodeCommand],
  ["dev", devCommand],
  ["operator", operatorCommand],
];

describe("every flag of dynamo node, dev and operator is also its DYNAMO_<FLAG> environment variable", function () {
  for (const [name, make] of commands) {
    it(`dynamo ${name}: each variable gives the value its flag would, and the help names it`, function () {
      const help = make().helpInformation();
      const options = make().options.filter((o) => o.long !== "--help");
      assert.ok(options.length > 0);
      for (const option of options) {
        const variable = environmentVariable(option);
        const key = option.attributeName();
        assert.ok(help.includes(variable), `the help of dynamo ${name} names ${variable}`);
        const switchOnly = !option.required && !option.optional;
        const env = { [variable]: switchOnly ? "1" : sampleValue(option.flags) };
        const viaEnv = parseCommand<Record<string, unknown>>(make(), [], env);
        const viaFlag = parseCommand<Record<string, unknown>>(make(), switchOnly ? [option.long!] : [option.long!, env[variable]!], {});
        const defaults = parseCommand<Record<string, unknown>>(make(), [], {});
        assert.ok(viaEnv.help === undefined && viaFlag.help === undefined && defaults.help === undefined);
        assert.deepEqual(viaEnv.options[key], viaFlag.options[key], `${variable} sets ${option.long}`);
        assert.notDeepEqual(viaEnv.options[key], defaults.options[key], `${variable} changes ${option.long} from its default`);
      }
    });
  }

  it("the command line wins over the environment", function () {
    const parsed = parseCommand<{ peerPort: number }>(nodeCommand(), ["--peer-port", "9001"], { DYNAMO_PEER_PORT: "9002" });
    assert.equal(parsed.help === undefined && parsed.options.peerPort, 9001);
  });

  it("a switch's variable says yes or no, and anything else is bad usage", function () {
    const leaderElect = (value: string) => {
      const parsed = parseCommand<{ leaderElect?: boolean }>(operatorCommand(), [], { DYNAMO_LEADER_ELECT: value });
      return parsed.help === undefined && parsed.options.leaderElect === true;
    };
    for (const yes of ["1", "true", "on", "yes", "TRUE"]) assert.equal(leaderElect(yes), true, yes);
    for (const no of ["0", "false", "off", "no", ""]) assert.equal(leaderElect(no), false, no);
    assert.throws(() => leaderElect("maybe"), (e: unknown) => e instanceof UsageError && /DYNAMO_LEADER_ELECT must be 1 or 0/.test(e.message));
  });

  it("a bad value from the environment is refused as the same bad flag", function () {
    assert.throws(() => parseCommand(nodeCommand(), [], { DYNAMO_PORT: "http" }), (e: unknown) => e instanceof UsageError && /--port must be a port number/.test(e.message));
    assert.throws(() => parseCommand(devCommand(), [], { DYNAMO_NODES: "0" }), /--nodes must be a whole number between 1 and 64/);
  });

  it("--help answers with the usage, whatever else is on the line", function () {
    for (const [, make] of commands) {
      const parsed = parseCommand(make(), ["--port", "not-a-port", "--help"], {});
      assert.match(parsed.help ?? "", /^Usage: dynamo /);
    }
  });
});
