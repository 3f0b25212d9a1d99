#!/usr/bin/env python3
"""bench/report.py RESULTS PAC_TYPICAL PAC_LARGE: the results table of bench/run.sh.

RESULTS holds kgbench's RESULT lines (several rounds per phase), the IDLE
lines of the memory phases and HWM lines, all key=value.  Each phase is
reported by its median round (by ok requests/s); the range over the rounds
is shown beside it.
"""
import statistics
import sys


def parse(line):
    kind, _, rest = line.partition(" ")
    d = {}
    for tok in rest.split():
        k, sep, v = tok.partition("=")
        if sep:
            d[k] = v
    return kind, d


def main():
    path, pac_typ, pac_big = sys.argv[1], sys.argv[2], sys.argv[3]
    phases, idle, hwm = {}, [], {}
    for line in open(path):
        kind, d = parse(line.strip())
        if kind == "RESULT":
            phases.setdefault(d["label"], []).append(d)
        elif kind == "IDLE":
            idle.append(d)
        elif kind == "HWM":
            hwm.update(d)

    med = {}
    order = {k: [float(d["rps"]) for d in v] for k, v in phases.items()}
    print()
    print(f"{'phase':<22} {'conns':>5} {'ok req/s':>10} {'(min-max over rounds)':>22} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}  non-200 / errors")
    for label, rounds in phases.items():
        rounds.sort(key=lambda d: float(d["rps"]))
        m = rounds[len(rounds) // 2]
        med[label] = float(m["rps"])
        other = sorted({k for d in rounds for k in d
                        if (k.startswith("status_") and k != "status_200") or k.startswith("err_")})
        others = " ".join(f"{k}={sum(int(d.get(k, 0)) for d in rounds)}" for k in other) or "none"
        cpu = m.get("proxy_cpu_us_per_req", "?")
        if cpu.startswith("-"):
            cpu = "n/a"     # a retired Apache child's time was lost
        rng = f"({float(rounds[0]['rps']):.0f}-{float(rounds[-1]['rps']):.0f})"
        print(f"{label:<22} {m['conns']:>5} {float(m['rps']):>10.0f} {rng:>22} "
              f"{float(m['p50_us']) / 1000:>7.2f} {float(m['p99_us']) / 1000:>7.2f} "
              f"{cpu:>10}  {others}")
    print("(CPU us/req: CPU time of all the proxy's processes during the phase, user+system,\n"
          " divided by the requests answered 200; the load generator and back-end excluded)")
    print()

    def ratio(a, b):
        """Median over rounds of a/b within each round (a round's phases run
        back to back, so they share whatever else the machine was doing)."""
        if a not in order or b not in order:
            return float("nan")
        rs = sorted(x / y for x, y in zip(order[a], order[b]) if y > 0)
        return statistics.median(rs) if rs else float("nan")

    def rounds(a, b):
        rs = [x / y for x, y in zip(order.get(a, []), order.get(b, [])) if y > 0]
        return " (per round: " + ", ".join(f"{x:.2f}" for x in rs) + ")"

    print("ratios: the median over rounds of each round's own ratio")
    r = ratio("kg_newconn", "ap_newconn")
    print(f"new-connection Negotiate auths/s ({pac_typ} B PAC): kerbgated {med.get('kg_newconn', 0):.0f}, "
          f"Apache {med.get('ap_newconn', 0):.0f}; ratio {r:.2f}x{rounds('kg_newconn', 'ap_newconn')}  "
          f"(target >= 3x: {'MET' if r >= 3 else 'NOT MET'})")
    r = ratio("kg_newconn_bigpac", "ap_newconn_bigpac")
    print(f"new-connection, large PAC ({pac_big} B): kerbgated {med.get('kg_newconn_bigpac', 0):.0f}, "
          f"Apache {med.get('ap_newconn_bigpac', 0):.0f}; ratio {r:.2f}x{rounds('kg_newconn_bigpac', 'ap_newconn_bigpac')}")
    r = ratio("kg_keepalive_auth", "kg_keepalive_noauth")
    print(f"keep-alive req/s: kerbgated auth {med.get('kg_keepalive_auth', 0):.0f}, auth off "
          f"{med.get('kg_keepalive_noauth', 0):.0f}; auth on is {100 * r:.1f}% of auth off"
          f"{rounds('kg_keepalive_auth', 'kg_keepalive_noauth')}")
    r = ratio("kgpair_keepalive_auth", "kgpair_keepalive_noauth")
    print(f"keep-alive, {len(order.get('kgpair_keepalive_auth', []))} short pairs run back to back: "
          f"auth on is {100 * r:.1f}% of auth off (median of the pairs' ratios)"
          f"{rounds('kgpair_keepalive_auth', 'kgpair_keepalive_noauth').replace('round', 'pair')} "
          f"(target >= 90%: {'MET' if r >= 0.9 else 'NOT MET'})")
    print(f"keep-alive req/s, Apache without auth (reference): {med.get('ap_keepalive_noauth', 0):.0f}")
    https_report(phases, med, ratio, rounds)
    print()
    print("memory, kerbgated processes (sum of VmRSS less the shared replay cache, reported\n"
          " beside it; PSS counts shared pages once):")
    for d in idle:
        n = int(d["n"])
        b = int(d["rss_before_kb"])
        tls = "tls" in d["label"]
        print(f"  {d['label']}: {d.get('idle_conns', '?')} of {n} connections held, "
              f"{d.get('probed_200', '?')} answered 200 after the hold; before {b / 1024:.1f} MiB; "
              f"replay cache touched {int(d.get('replay_shm_kb', 0)) / 1024:.1f} MiB (shared)")
        for key, what in (("idle", "idle after set-up"), ("burst", "idle after a burst")):
            a = int(d[f"rss_{key}_kb"])
            per = (a - b) / n
            verdict = (f"target < 48 KiB/conn: {'MET' if per < 48 else 'NOT MET'}" if tls else
                       f"target < 32 MiB: {'MET' if a < 32 * 1024 else 'NOT MET'}")
            print(f"    {what:<20} VmRSS {a / 1024:6.1f} MiB  PSS {int(d[f'pss_{key}_kb']) / 1024:6.1f} MiB  "
                  f"{per:6.1f} KiB/conn over before   ({verdict})")
    if hwm:
        print(f"kerbgated VmHWM sum (peak RSS, per process, summed): after the load phases "
              f"{int(hwm.get('after_load_kb', 0)) / 1024:.1f} MiB, at the end "
              f"{int(hwm.get('all_kb', 0)) / 1024:.1f} MiB; Apache VmRSS sum at the end "
              f"{int(hwm.get('apache_rss_kb', 0)) / 1024:.1f} MiB")


def cpu_of(phases, label):
    """The median round's proxy CPU per request, microseconds (or nan)."""
    rounds = phases.get(label)
    if not rounds:
        return float("nan")
    v = rounds[len(rounds) // 2].get("proxy_cpu_us_per_req", "nan")
    return float(v) if not v.startswith("-") else float("nan")


def client_cpu_of(phases, label):
    """The median round's load-generator CPU per request, microseconds."""
    rounds = phases.get(label)
    if not rounds:
        return float("nan")
    return float(rounds[len(rounds) // 2].get("client_cpu_us_per_req", "nan"))


def https_report(phases, med, ratio, rounds):
    if "kgtls_newconn" not in phases:
        return
    print()
    print("HTTPS (a new TLS connection per request):")
    for what, kg, ap, target in (
            ("full handshake + Negotiate", "kgtls_newconn", "aptls_newconn", 1.5),
            ("resumed handshake + Negotiate", "kgtls_resumed", "aptls_resumed", 3.0),
            ("handshake alone (no auth)", "kgtls_handshake", "aptls_handshake", None)):
        r = ratio(kg, ap)
        ck, ca = cpu_of(phases, kg), cpu_of(phases, ap)
        cl = client_cpu_of(phases, kg)
        line = (f"  {what}: kerbgated {med.get(kg, 0):.0f}/s, Apache {med.get(ap, 0):.0f}/s; "
                f"ratio {r:.2f}x{rounds(kg, ap)}; CPU/req {ck:.0f} vs {ca:.0f} us "
                f"({ck / ca:.2f}x); load generator {cl:.0f} us/req")
        if target is not None:
            line += f" (target >= {target}x: {'MET' if r >= target else 'NOT MET'}"
            if target == 1.5:
                line += f"; CPU <= 0.67x: {'MET' if ck / ca <= 0.67 else 'NOT MET'}"
            line += ")"
        else:
            line += f" (target CPU <= 1.5x OpenSSL's: {'MET' if ck / ca <= 1.5 else 'NOT MET'})"
        print(line)
    for kg in ("kgtls_resumed", "aptls_resumed"):
        rs = phases.get(kg, [])
        full = sum(int(d.get("tls_full", 0)) for d in rs)
        res = sum(int(d.get("tls_resumed", 0)) for d in rs)
        print(f"  {kg}: {res} resumed and {full} full handshakes over the rounds")


if __name__ == "__main__":
    main()
