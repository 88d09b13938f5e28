#!/usr/bin/env python3
"""scripts/crashtest.d/load_resp.py: the write load of load.lua, sent through
troupe's RESP gateway by real Redis clients (the Python redis module).

  load_resp.py PORT ROUND CLIENTS FRESH HOT LEN HOT_LEN BIG SEED

Same keys, versions, values (model.lua's value(): the FNV-1a byte of
key#version) and journal lines on stdout as load.lua: "set <key> <version>
<length>" / "del <key> <version>" before a request, "ack <key> <version>"
once the gateway answered it (+OK for a SET, an integer for a DEL). Each
client is a thread with a connection of its own, waiting for every answer
before its next write. It runs until the gateway goes away (the kill):
a request that fails then is never acknowledged, and the client stops. A
request refused while the gateway still runs ends the process with status
3 (the store must go on taking writes)."""
import os
import random
import sys
import threading

import redis


def fnv(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def value(key, version, length):
    head = f"{key}#{version}".encode()
    byte = (fnv(head) >> 16) & 0xFF
    return head + b":" + bytes([byte]) * length + b"."


lock = threading.Lock()


def emit(line):
    with lock:  # one write(2) a line, whole
        os.write(1, (line + "\n").encode())


def client(c, p, failed):
    rnd = random.Random(p["seed"] * 1000003 + p["round"] * 1009 + c)
    conn = redis.Redis(port=p["port"], socket_timeout=30)
    made = n = 0
    while True:
        n += 1
        if made < p["fresh"] and (p["hot"] == 0 or rnd.randint(1, 4) > 1):
            made += 1
            key, version, op = f"k{p['round']}-{c}-{made}", 1, "set"
            length = rnd.randint(0, p["len"])
        elif p["hot"] > 0:
            key, version = f"h{c}-{rnd.randint(1, p['hot'])}", p["round"] * 1000000 + n
            op = "del" if rnd.randint(1, 4) == 1 else "set"
            length = rnd.randint(0, p["hot_len"])
            if p["big"] > 0 and rnd.randint(1, 100) == 1:
                length = rnd.randint(1, p["big"])
        else:
            return
        try:
            if op == "set":
                emit(f"set {key} {version} {length}")
                ok = conn.set(key, value(key, version, length)) is True
            else:
                emit(f"del {key} {version}")
                ok = conn.delete(key) in (0, 1)
        except (redis.ConnectionError, redis.TimeoutError):
            return  # the gateway went away: this request was not acknowledged
        except redis.ResponseError as e:
            failed.append(f"client {c}: {op} {key} {version}: {e}")
            return
        if not ok:
            failed.append(f"client {c}: {op} {key} {version}: not acknowledged")
            return
        emit(f"ack {key} {version}")


def main():
    names = ["port", "round", "clients", "fresh", "hot", "len", "hot_len", "big", "seed"]
    if len(sys.argv) != len(names) + 1:
        sys.exit("usage: load_resp.py " + " ".join(n.upper() for n in names))
    p = {name: int(a) for name, a in zip(names, sys.argv[1:])}
    failed = []
    threads = [threading.Thread(target=client, args=(c, p, failed), daemon=True)
               for c in range(1, p["clients"] + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if failed:
        sys.stderr.write("crashtest load_resp: " + "; ".join(failed) + "\n")
        sys.exit(3)


main()
