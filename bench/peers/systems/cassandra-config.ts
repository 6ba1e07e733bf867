/**
 * Everything the harness writes to run Apache Cassandra from Maven Central rather than from a release tarball: the
 * pom that pulls `cassandra-all` and its runtime dependencies, each node's cassandra.yaml and logback.xml, and the
 * JVM command line (the Java 17 module flags of Cassandra's jvm17-server.options, without which it exits at start,
 * plus the general flags of its jvm-server.options). Pure functions of their inputs, so they are unit tested.
 */

export const CASSANDRA_VERSION = "5.0.8";
/** With SimpleSnitch every node is in this data center; NetworkTopologyStrategy names it. */
export const CASSANDRA_DATACENTER = "datacenter1";
export const CASSANDRA_KEYSPACE = "ycsb";
export const CASSANDRA_TABLE = "usertable";
export const CASSANDRA_HEAP = { initial: "512M", max: "1G" };

/** A pom whose only job is `mvn dependency:copy-dependencies`: the server jar and everything it needs at run time. */
export function cassandraPom(version: string = CASSANDRA_VERSION): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.ringkv.bench</groupId>
  <artifactId>cassandra-server</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>${version}</version>
    </dependency>
  </dependencies>
</project>
`;
}

export interface CassandraNodeConfig {
  clusterName: string;
  /** The node's own loopback address (127.0.0.1, .2, .3) and the seed's. */
  address: string;
  seed: string;
  storagePort: number;
  nativePort: number;
  /** The node's directory: data, commit log, hints, caches and logs go under it. */
  dir: string;
  /** Sync the commit log before acknowledging each write (batch mode) instead of every 10 s (periodic). */
  durable: boolean;
}

/** Periodic commit log sync interval: Cassandra's default. */
export const CASSANDRA_COMMITLOG_SYNC_PERIOD_MS = 10_000;

/**
 * cassandra.yaml for one node. num_tokens 16, small caches and memtables (three JVMs share a small machine), no
 * authentication (the store's client port has none either), data under the node's directory. Everything not set
 * keeps Cassandra 5.0's built-in default.
 */
export function cassandraYaml(node: CassandraNodeConfig): string {
  const dir = node.dir;
  const sync = node.durable
    ? ["commitlog_sync: batch"]
    : ["commitlog_sync: periodic", `commitlog_sync_period: ${CASSANDRA_COMMITLOG_SYNC_PERIOD_MS}ms`];
  return [
    `cluster_name: '${node.clusterName}'`,
    "num_tokens: 16",
    "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
    "endpoint_snitch: SimpleSnitch",
    "seed_provider:",
    "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
    "    parameters:",
    `      - seeds: "${node.seed}:${node.storagePort}"`,
    `listen_address: ${node.address}`,
    `rpc_address: ${node.address}`,
    `storage_port: ${node.storagePort}`,
    `native_transport_port: ${node.nativePort}`,
    "start_native_transport: true",
    // A fresh, empty cluster: nothing to stream, so nodes join at once instead of bootstrapping.
    "auto_bootstrap: false",
    "authenticator: AllowAllAuthenticator",
    "authorizer: AllowAllAuthorizer",
    `data_file_directories: ["${dir}/data"]`,
    `commitlog_directory: ${dir}/commitlog`,
    `saved_caches_directory: ${dir}/saved_caches`,
    `hints_directory: ${dir}/hints`,
    `cdc_raw_directory: ${dir}/cdc_raw`,
    ...sync,
    "key_cache_size: 16MiB",
    "row_cache_size: 0MiB",
    "counter_cache_size: 0MiB",
    "memtable_heap_space: 128MiB",
    "memtable_offheap_space: 128MiB",
    "concurrent_reads: 16",
    "concurrent_writes: 16",
    "concurrent_compactors: 1",
    // Dropping the benchmark keyspace must not leave snapshots behind in a directory that is removed anyway.
    "auto_snapshot: false",
    "",
  ].join("\n");
}

/** Logging to one file per node at INFO, and nothing on the console: the harness keeps its own output readable. */
export function cassandraLogback(logFile: string): string {
  return `<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${logFile}</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE" /></root>
</configuration>
`;
}

/** The Java 17 module flags of Cassandra's conf/jvm17-server.options: without them the server exits within seconds. */
export const JVM17_MODULE_FLAGS: readonly string[] = [
  "-Djdk.attach.allowAttachSelf=true",
  ...[
    "java.base/jdk.internal.misc",
    "java.management.rmi/com.sun.jmx.remote.internal.rmi",
    "java.rmi/sun.rmi.registry",
    "java.rmi/sun.rmi.server",
    "java.sql/java.sql",
    "java.base/java.lang.ref",
    "jdk.unsupported/sun.misc",
    "jdk.compiler/com.sun.tools.javac.file",
    "jdk.attach/sun.tools.attach",
  ].flatMap((module) => ["--add-exports", `${module}=ALL-UNNAMED`]),
  ...[
    "java.base/java.lang.module",
    "java.base/jdk.internal.loader",
    "java.base/jdk.internal.ref",
    "java.base/jdk.internal.reflect",
    "java.base/jdk.internal.math",
    "java.base/jdk.internal.module",
    "java.base/jdk.internal.util.jar",
    "jdk.management/com.sun.management.internal",
    "java.base/sun.nio.ch",
    "java.base/java.io",
    "java.base/java.lang.reflect",
    "jdk.compiler/com.sun.tools.javac",
    "java.base/java.lang",
    "java.base/java.util",
  ].flatMap((module) => ["--add-opens", `${module}=ALL-UNNAMED`]),
];

/** G1 and Netty settings of jvm17-server.options, and the general ones of jvm-server.options. */
const JVM_SERVER_FLAGS: readonly string[] = [
  "-XX:+UseG1GC",
  "-XX:+ParallelRefProcEnabled",
  "-XX:MaxTenuringThreshold=1",
  "-XX:G1RSetUpdatingPauseTimePercent=5",
  "-XX:MaxGCPauseMillis=300",
  "-XX:InitiatingHeapOccupancyPercent=70",
  "-Dio.netty.tryReflectionSetAccessible=true",
  "-Dio.netty.allocator.useCacheForAllThreads=true",
  "-Dio.netty.allocator.maxOrder=11",
  "-ea",
  "-da:net.openhft...",
  "-XX:+UseThreadPriorities",
  "-Xss256k",
  "-XX:+UseTLAB",
  "-XX:+ResizeTLAB",
  "-XX:+PerfDisableSharedMem",
  "-XX:+CrashOnOutOfMemoryError",
  "-Djava.net.preferIPv4Stack=true",
];

export interface CassandraJvmOptions {
  /** Directory holding cassandra-all and its dependencies. */
  libDir: string;
  /** File names in libDir; the classpath lists them in order, and the jamm agent is found among them. */
  jars: readonly string[];
  yamlPath: string;
  logbackPath: string;
  dir: string;
}

/** The `java` arguments that run one node in the foreground. No JMX port: nothing here needs one. */
export function cassandraJvmArgs(options: CassandraJvmOptions): string[] {
  const jamm = options.jars.find((jar) => /^jamm-[\d.]+\.jar$/.test(jar));
  return [
    `-Xms${CASSANDRA_HEAP.initial}`,
    `-Xmx${CASSANDRA_HEAP.max}`,
    ...JVM_SERVER_FLAGS,
    ...JVM17_MODULE_FLAGS,
    // Cassandra measures memtable sizes with jamm; its start script loads it as an agent.
    ...(jamm ? [`-javaagent:${options.libDir}/${jamm}`] : []),
    `-Dcassandra.config=file://${options.yamlPath}`,
    `-Dlogback.configurationFile=file://${options.logbackPath}`,
    `-Dcassandra.logdir=${options.dir}/logs`,
    `-Dcassandra.storagedir=${options.dir}`,
    "-Dcassandra-foreground=yes",
    // A new, empty cluster on one machine: no need to wait 30 s for gossip to settle or for the ring to form.
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.ring_delay_ms=1000",
    "-cp",
    options.jars.map((jar) => `${options.libDir}/${jar}`).join(":"),
    "org.apache.cassandra.service.CassandraDaemon",
  ];
}

/** The schema the benchmark uses: YCSB's usertable with one blob field, replicated three times in the one DC. */
export function cassandraSchema(replicationFactor = 3): string[] {
  return [
    `CREATE KEYSPACE IF NOT EXISTS ${CASSANDRA_KEYSPACE} WITH replication = ` +
      `{'class': 'NetworkTopologyStrategy', '${CASSANDRA_DATACENTER}': ${replicationFactor}}`,
    `CREATE TABLE IF NOT EXISTS ${CASSANDRA_KEYSPACE}.${CASSANDRA_TABLE} (y_id text PRIMARY KEY, field0 blob)`,
  ];
}
