import assert from "node:assert/strict";
import cassandra from "cassandra-driver";
import { parse as parseYaml } from "yaml";
import { cassandraErrorKind, parseJavaMajor } from "../../../../bench/peers/systems/cassandra.js";
import {
  CASSANDRA_VERSION,
  cassandraJvmArgs,
  cassandraLogback,
  cassandraPom,
  cassandraSchema,
  cassandraYaml,
  JVM17_MODULE_FLAGS,
} from "../../../../bench/peers/systems/cassandra-config.js";
import { etcdMemberArgs, etcdMembers, parseEtcdVersion } from "../../../../bench/peers/systems/etcd.js";
import { parseRedisVersion, redisConfig, redisErrorKind } from "../../../../bench/peers/systems/redis.js";
import { STORE_LWW_BUCKET, storeConfig } from "../../../../bench/peers/systems/store.js";
import { parseNodeConfig } from "../../../../node/config/index.js";

function flagValue(args: readonly string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index < 0 ? undefined : args[index + 1];
}

describe("bench:peers system configuration", function () {
  describe("store", function () {
    it("gives the nodes a valid configuration with an lww bucket n=3 r=2 w=2", function () {
      const config = parseNodeConfig(storeConfig(false));
      assert.deepEqual(config.buckets.get(STORE_LWW_BUCKET), { name: STORE_LWW_BUCKET, n: 3, r: 2, w: 2, reconciliation: "lww" });
      assert.equal(config.tuning.syncWrites, false);
      assert.equal(parseNodeConfig(storeConfig(true)).tuning.syncWrites, true, "durable mode fsyncs every write");
    });
  });

  describe("cassandra", function () {
    const node = { clusterName: "bench", address: "127.0.0.2", seed: "127.0.0.1", storagePort: 27000, nativePort: 27001, dir: "/tmp/x/node2", durable: false };

    it("writes a cassandra.yaml with 16 tokens, the seed, its own address and data under its directory", function () {
      const yaml = parseYaml(cassandraYaml(node)) as Record<string, unknown>;
      assert.equal(yaml.num_tokens, 16);
      assert.equal(yaml.listen_address, "127.0.0.2");
      assert.equal(yaml.rpc_address, "127.0.0.2");
      assert.equal(yaml.storage_port, 27000);
      assert.equal(yaml.native_transport_port, 27001);
      assert.deepEqual(yaml.seed_provider, [{ class_name: "org.apache.cassandra.locator.SimpleSeedProvider", parameters: [{ seeds: "127.0.0.1:27000" }] }]);
      assert.deepEqual(yaml.data_file_directories, ["/tmp/x/node2/data"]);
      for (const key of ["commitlog_directory", "saved_caches_directory", "hints_directory", "cdc_raw_directory"]) {
        assert.match(String(yaml[key]), /^\/tmp\/x\/node2\//, key);
      }
      assert.equal(yaml.row_cache_size, "0MiB");
    });

    it("syncs the commit log every 10 s by default and before every acknowledgement when durable", function () {
      const periodic = parseYaml(cassandraYaml(node)) as Record<string, unknown>;
      assert.equal(periodic.commitlog_sync, "periodic");
      assert.equal(periodic.commitlog_sync_period, "10000ms");
      const batch = parseYaml(cassandraYaml({ ...node, durable: true })) as Record<string, unknown>;
      assert.equal(batch.commitlog_sync, "batch");
      assert.equal(batch.commitlog_sync_period, undefined);
    });

    it("runs the JVM with Java 17's module flags, a 512 MiB-1 GiB heap, the jamm agent and every jar", function () {
      const jars = ["cassandra-all-5.0.8.jar", "jamm-0.4.0.jar", "netty-all-4.1.130.Final.jar"];
      const args = cassandraJvmArgs({ libDir: "/lib", jars, yamlPath: "/n/cassandra.yaml", logbackPath: "/n/logback.xml", dir: "/n" });
      assert.ok(args.includes("-Xms512M") && args.includes("-Xmx1G"));
      // Each module flag is followed by its value, as the JVM wants them.
      for (let i = 0; i < JVM17_MODULE_FLAGS.length; i++) {
        if (JVM17_MODULE_FLAGS[i] === "--add-opens" || JVM17_MODULE_FLAGS[i] === "--add-exports") assert.match(JVM17_MODULE_FLAGS[i + 1]!, /^[\w.]+\/[\w.]+=ALL-UNNAMED$/);
      }
      assert.equal(flagValue(args, "--add-opens"), "java.base/java.lang.module=ALL-UNNAMED");
      assert.ok(args.includes("java.base/sun.nio.ch=ALL-UNNAMED"));
      assert.ok(args.includes("-javaagent:/lib/jamm-0.4.0.jar"));
      assert.ok(args.includes("-Dcassandra.config=file:///n/cassandra.yaml"));
      assert.equal(flagValue(args, "-cp"), "/lib/cassandra-all-5.0.8.jar:/lib/jamm-0.4.0.jar:/lib/netty-all-4.1.130.Final.jar");
      assert.equal(args.at(-1), "org.apache.cassandra.service.CassandraDaemon");
    });

    it("fetches cassandra-all of the pinned version and keeps logs in a file", function () {
      assert.match(cassandraPom(), new RegExp(`<artifactId>cassandra-all</artifactId>\\s*<version>${CASSANDRA_VERSION.replace(/\./g, "\\.")}</version>`));
      assert.match(cassandraLogback("/n/logs/system.log"), /<file>\/n\/logs\/system.log<\/file>/);
    });

    it("replicates the keyspace three times with NetworkTopologyStrategy", function () {
      assert.match(cassandraSchema()[0]!, /'class': 'NetworkTopologyStrategy', 'datacenter1': 3/);
    });

    it("names server errors by their protocol code and driver errors by their class", function () {
      assert.equal(cassandraErrorKind(new cassandra.errors.ResponseError(0x1100, "Operation timed out")), "write_timeout");
      assert.equal(cassandraErrorKind(new cassandra.errors.ResponseError(0x1000, "Cannot achieve consistency")), "unavailable_exception");
      assert.equal(cassandraErrorKind(new cassandra.errors.OperationTimedOutError("no reply", "127.0.0.1")), "operation_timed_out");
    });

    it("reads the Java major version, old style and new", function () {
      assert.equal(parseJavaMajor('openjdk version "17.0.15" 2025-04-15'), 17);
      assert.equal(parseJavaMajor('java version "1.8.0_392"'), 8);
      assert.equal(parseJavaMajor("no java here"), undefined);
    });
  });

  describe("etcd", function () {
    it("starts three members of one new cluster on consecutive ports", function () {
      const members = etcdMembers(30000);
      assert.deepEqual(members.map((m) => [m.clientPort, m.peerPort]), [[30000, 30001], [30002, 30003], [30004, 30005]]);
      const args = etcdMemberArgs(members[1]!, members, { dataDir: "/d/m2", clusterToken: "t" });
      assert.equal(flagValue(args, "--name"), "m2");
      assert.equal(flagValue(args, "--listen-client-urls"), "http://127.0.0.1:30002");
      assert.equal(flagValue(args, "--initial-cluster"), "m1=http://127.0.0.1:30001,m2=http://127.0.0.1:30003,m3=http://127.0.0.1:30005");
      assert.equal(flagValue(args, "--initial-cluster-state"), "new");
      assert.ok(!args.some((a) => a.includes("unsafe-no-fsync")), "etcd always fsyncs its WAL");
    });

    it("reads the version etcd prints", function () {
      assert.equal(parseEtcdVersion("etcd Version: 3.6.8\nGit SHA: GitNotFound\nGo Version: go1.26\n"), "3.6.8");
      assert.equal(parseEtcdVersion("something else"), undefined);
    });
  });

  describe("redis", function () {
    it("keeps data in memory only by default and fsyncs an AOF on every write when durable", function () {
      const plain = redisConfig({ port: 31000, dir: "/d", durable: false }).split("\n");
      assert.ok(plain.includes("appendonly no") && plain.includes('save ""') && plain.includes("bind 127.0.0.1") && plain.includes("port 31000"));
      const durable = redisConfig({ port: 31000, dir: "/d", durable: true }).split("\n");
      assert.ok(durable.includes("appendonly yes") && durable.includes("appendfsync always"));
    });

    it("reads redis-server's version and names a timeout", function () {
      assert.deepEqual(parseRedisVersion("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1"), { major: 7, version: "7.0.15" });
      assert.equal(parseRedisVersion("nope"), undefined);
      assert.equal(redisErrorKind(new Error("Command timed out")), "timeout");
    });
  });
});
