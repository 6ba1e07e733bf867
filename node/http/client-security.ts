/**
 * The client port's optional security, loaded at start and kept current while the node runs: client tokens from
 * `--client-tokens-file` (re-read when the file changes). Both are off unless configured, so the quick start's plain
 * `curl` keeps working.
 */
import { ClientTokens, parseClientTokens } from "./client-auth.js";
import { watchFiles } from "./watched-files.js";

export interface ClientSecurityOptions {
  /** A YAML or JSON file of hashed client tokens; absent: the client port needs no token. */
  tokensFile?: string;
}

export class ClientSecurity {
  #tokens: ClientTokens | undefined;
  readonly #stops: Array<() => void> = [];

  /** Loads what is configured; throws a DynamoError naming the file and the problem when it cannot. */
  constructor(readonly options: ClientSecurityOptions, log: (message: string) => void) {
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
    }
  }

  /** The tokens in force now, as a getter for the API (they change when the file does); undefined when tokens are off. */
  get tokens(): (() => ClientTokens) | undefined {
    return this.#tokens ? () => this.#tokens! : undefined;
  }

  close(): void {
    for (const stop of this.#stops) stop();
  }
}
