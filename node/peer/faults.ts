/**
 * Fault injection for tests: cuts the peer network between this node and chosen members. It exists only when the
 * node runs with DYNAMO_FAULT_INJECTION=1, which no production manifest sets. A cut is one-sided (this node neither
 * sends to nor answers the members named); tests cut both sides to model a partition. Outgoing requests fail at once,
 * like a refused connection; incoming ones are dropped unanswered, like a silent network.
 */

export class FaultInjector {
  private cut = new Set<string>();

  setCut(memberIds: string[]): void {
    this.cut = new Set(memberIds);
  }

  isCut(memberId: string | undefined): boolean {
    return memberId !== undefined && this.cut.has(memberId);
  }

  get cutMembers(): string[] {
    return [...this.cut].sort();
  }
}
