"""A bad link for the network lab: copies Ethernet frames between two interfaces of the switch namespace, delaying
(with jitter), losing, duplicating and reordering them on the way, the way `tc netem` does.

The lab uses it because the kernel it runs on may be built without sch_netem (CONFIG_NET_SCH_NETEM is not set on the
machine this was written on); frames still cross real veth links and real TCP stacks see every delay, loss and
reordering. The lab splices it into one node's link: node eth0 <-> `near` ... relay ... `far` <-> bridge.

usage: relay.py NEAR FAR SEED
Standard input carries one JSON object per line replacing the impairment of both directions:
  {"delayMs": 40, "jitterMs": 20, "loss": 0.01, "duplicate": 0.01, "reorder": 0.05}
("reorder": the share of frames sent at once, overtaking delayed ones, as netem's `reorder`). End of input stops it.
"""
import heapq
import json
import os
import random
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
# Frames held at once, as netem's default `limit 1000`; more are dropped like a full queue.
QUEUE_FRAMES_MAX = 1000
FRAME_BYTES_MAX = 65535


def open_interface(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, 0))
    s.setblocking(False)
    return s


def main():
    near_name, far_name, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    near, far = open_interface(near_name), open_interface(far_name)
    other = {near.fileno(): far, far.fileno(): near}
    params = {"delayMs": 0.0, "jitterMs": 0.0, "loss": 0.0, "duplicate": 0.0, "reorder": 0.0}
    queue = []
    sequence = 0
    control = sys.stdin.fileno()
    os.set_blocking(control, False)
    pending_control = b""
    counts = {"forwarded": 0, "lost": 0, "duplicated": 0, "overflow": 0}
    sys.stdout.write("ready\n")
    sys.stdout.flush()

    def schedule(frame, out, now):
        nonlocal sequence
        if rng.random() < params["loss"]:
            counts["lost"] += 1
            return
        copies = 2 if rng.random() < params["duplicate"] else 1
        if copies == 2:
            counts["duplicated"] += 1
        for _ in range(copies):
            if rng.random() < params["reorder"]:
                delay = 0.0
            else:
                delay = max(0.0, params["delayMs"] + rng.uniform(-params["jitterMs"], params["jitterMs"]))
            if len(queue) >= QUEUE_FRAMES_MAX:
                counts["overflow"] += 1
                return
            sequence += 1
            heapq.heappush(queue, (now + delay / 1000.0, sequence, frame, out))

    while True:
        now = time.monotonic()
        timeout = max(0.0, queue[0][0] - now) if queue else None
        readable, _, _ = select.select([near, far, control], [], [], timeout)
        now = time.monotonic()
        for r in readable:
            if r == control:
                chunk = os.read(control, 65536)
                if not chunk:
                    sys.stderr.write(json.dumps(counts) + "\n")
                    return
                pending_control += chunk
                while b"\n" in pending_control:
                    line, pending_control = pending_control.split(b"\n", 1)
                    if line.strip():
                        params.update(json.loads(line))
                continue
            out = other[r.fileno()]
            for _ in range(256):
                try:
                    frame, address = r.recvfrom(FRAME_BYTES_MAX)
                except BlockingIOError:
                    break
                if address[2] == PACKET_OUTGOING:
                    continue
                schedule(frame, out, now)
        while queue and queue[0][0] <= now:
            _, _, frame, out = heapq.heappop(queue)
            try:
                out.send(frame)
                counts["forwarded"] += 1
            except (BlockingIOError, OSError):
                counts["overflow"] += 1


if __name__ == "__main__":
    main()
