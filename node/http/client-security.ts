/**
 * The client port's optional security, loaded at start and kept current while the node runs: TLS from
 * `--client-tls-dir` (ca.crt, tls.crt, tls.key, the layout of a Kubernetes TLS Secret; new certificates are picked up
 * without a restart) and client tokens from `--client-tokens-file` (re-read when the file changes). Both are off
 * unless configured, so the quick start's plain `curl` keeps working.
 *
 * Unlike the peer port, the client port does not ask clients for certificates: clients prove who they are with tokens,
 * and TLS keeps those tokens and the data private and tells clients they reached the store (they verify the node's
 * certificate against ca.crt, published to them).
 */
import type { Server } from "node:http";
import { Server as HttpsServer, type ServerOptions as HttpsOptions } from "node:https";
import type { Logger } from "../log.js";
import { TlsDir, type TlsFingerprints } from "../tls/index.js";
import { ClientTokens, parseClientTokens } from "./client-auth.js";
import { FILE_CHECK_INTERVAL_MS, watchFiles } from "./watched-files.js";

export interface ClientSecurityOptions {
  /** A YAML or JSON file of hashed client tokens; absent: the client port needs no token. */
  tokensFile?: string;
  /** A directory with ca.crt, tls.crt and tls.key; absent: the client port speaks plain HTTP. */
  tlsDir?: string;
}

export class ClientSecurity {
  #tokens: ClientTokens | undefined;
  readonly #tls: TlsDir | undefined;
  readonly #stops: Array<() => void> = [];

  /** Loads what is configured; throws a DynamoError naming the file and the problem when it cannot. */
  constructor(
    readonly options: ClientSecurityOptions,
    private readonly log: Pick<Logger, "info" | "warn">,
  ) {
    const tokensFile = options.tokensFile;
    if (tokensFile !== undefined) {
      const watched = watchFiles({
        paths: [tokensFile],
        parse: ([text]) => new ClientTokens(parseClientTokens(text!.toString("utf8"), tokensFile)),
        apply: (tokens) => (this.#tokens = tokens),
        log,
      });
      this.#tokens = watched.value;
      this.#stops.push(watched.stop);
      if (this.#tokens.size === 0) log.warn(`the client tokens file ${tokensFile} lists no token: every request that needs one is refused`);
    }
    if (options.tlsDir !== undefined) {
      this.#tls = TlsDir.load(options.tlsDir);
      this.#stops.push(() => this.#tls!.close());
    }
  }

  /** The tokens in force now, as a getter for the API (they change when the file does); undefined when tokens are off. */
  get tokens(): (() => ClientTokens) | undefined {
    return this.#tokens ? () => this.#tokens! : undefined;
  }


  /** Which certificate the client port serves now, or undefined for plain HTTP. */
  fingerprints(): TlsFingerprints | undefined {
    return this.#tls?.fingerprints();
  }

  /** Options for an HTTPS client port, or undefined for plain HTTP. */
  tlsOptions(): HttpsOptions | undefined {
    if (!this.#tls) return undefined;
    const { cert, key } = this.#tls.material;
    return { cert, key };
  }

  /** Keeps an HTTPS client port's certificate current: new connections get the new one, open ones keep theirs. */
  watchCertificates(server: Server | HttpsServer): void {
    const tls = this.#tls;
    if (!tls || !(server instanceof HttpsServer)) return;
    tls.watch(
      FILE_CHECK_INTERVAL_MS,
      ({ cert, key }) => {
        server.setSecureContext({ cert, key });
        this.log.info(`reloaded the client port's TLS certificate from ${tls.dir}`);
      },
      (problem) => this.log.warn(`not reloading the client port's TLS certificate yet: ${problem}`),
    );
  }

  close(): void {
    for (const stop of this.#stops) stop();
  }
}
