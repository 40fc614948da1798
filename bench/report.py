"""Prints bench/run.sh's table from its JSON lines (one per run; see bench/README.md).

Each row: the metric, drgrade's median (min–max) over runs, PyTorch's, the ratio drgrade/PyTorch
as the median (min–max) of the per-pair ratios (the two runs of a pair ran back to back), the
issue's goal for that ratio and whether the median ratio meets it. With --markdown the same
table is printed as Markdown (for BENCHMARKS.md).
"""
import argparse
import json
import statistics

# (item, case prefix) -> goal on the drgrade/PyTorch ratio: ('<=', x) or ('>=', x); None: no goal.
STEP_GOALS = {'resnet b32': ('<=', 1.00), 'resnet b16': ('<=', 1.00), 'mobilenet_v3 b8': ('<=', 0.85)}


def span(v, fmt):
    return (fmt + ' (' + fmt + '–' + fmt + ')') % (statistics.median(v), min(v), max(v))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('results')
    p.add_argument('--mode', default='')
    p.add_argument('--pairs', default='')
    p.add_argument('--threads', default='')
    p.add_argument('--load_before', default='')
    p.add_argument('--load_after', default='')
    p.add_argument('--seconds', default='')
    p.add_argument('--markdown', action='store_true')
    a = p.parse_args()

    runs = [json.loads(line) for line in open(a.results) if line.strip()]
    cases = []  # (item, case) in first-seen order
    by = {}
    for r in runs:
        k = (r['item'], r['case'])
        if k not in by:
            cases.append(k)
        by.setdefault(k, {}).setdefault(r['pair'], {})[r['impl']] = r['run']

    rows = []  # [label, unit fmt, g values, p values, goal]

    def add(label, fmt, k, get, goal=None, ratio=True):
        ps = [pr for pr in by[k].values() if 'drgrade' in pr and 'pytorch' in pr]
        g = [get(pr['drgrade']) for pr in ps]
        t = [get(pr['pytorch']) for pr in ps]
        rows.append((label, fmt, g, t, goal, ratio))

    def first_step_rows(k, case):
        add('7. exec → first finished train step, s' + case, '%.2f', k,
            lambda r: r['child']['first_step_unix'] - r['exec_unix'], ('<=', 0.5))
        # Start-up alone: the time to step 1's end less one steady step (step 2's duration, its
        # batch having been prefetched). Older result files lack step 2's time.
        if all(pr.get(i, {}).get('child', {}).get('second_step_unix') for pr in by[k].values() for i in ('drgrade', 'pytorch')):
            add('   of which before step 1 (less one steady step, step 2), s', '%.2f', k,
                lambda r: 2 * r['child']['first_step_unix'] - r['child']['second_step_unix'] - r['exec_unix'])

    notes = []
    for k in cases:
        item, case = k
        if item == 'step':
            add('1. train step ms, %s (224 px)' % case, '%.0f', k, lambda r: r['ms_per_step_median'],
                STEP_GOALS.get(case))
        elif item == 'data':
            add('2. data pipeline img/s, %s' % case, '%.1f', k, lambda r: r['images_per_s'], ('>=', 1.5))
        elif item == 'epoch':
            add('3. epoch end to end, wall s (exec→exit), %s' % case, '%.1f', k, lambda r: r['wall_s'], ('<=', 0.9))
            add('   in-process epoch s (train+eval+metrics)', '%.1f', k, lambda r: r['child']['epoch_s'][0])
            add('5. peak RSS MB, process tree during (3)', '%.0f', k, lambda r: r['peak_rss_mb'], ('<=', 0.7))
            add('   peak PSS MB, process tree during (3)', '%.0f', k, lambda r: r['peak_pss_mb'])
            add('   processes in the tree (peak alive)', '%.0f', k, lambda r: r['peak_procs'], ratio=False)
            first_step_rows(k, '')
        elif item == 'start':
            first_step_rows(k, ', ' + case)
        elif item == 'eval':
            add('4. evaluation img/s, %s' % case, '%.1f', k, lambda r: r['images_per_s'])
        elif item == 'drift':
            def drift(r):
                m = r['rss_mb_at_step']
                return 100 * (m['1000'] / m['100'] - 1)
            # QUICK measures drgrade alone (the goal is on its drift): PyTorch's cells stay empty.
            gs = [pr['drgrade'] for pr in by[k].values() if 'drgrade' in pr]
            ts = [pr['pytorch'] for pr in by[k].values() if 'pytorch' in pr]
            g, t = [drift(r) for r in gs], [drift(r) for r in ts]
            rows.append(('6. RSS drift step 100→1000 %%, %s' % case, '%+.2f', g, t, ('abs<', 2.0), False))
            g100 = [r['rss_mb_at_step']['100'] for r in gs]
            t100 = [r['rss_mb_at_step']['100'] for r in ts]
            rows.append(('   RSS MB at step 100', '%.0f', g100, t100, None, len(t100) == len(g100)))

    head = ['metric', 'drgrade median (min–max)', 'PyTorch median (min–max)', 'drgrade/PyTorch', 'goal', 'met?']
    table = [head]
    for label, fmt, g, t, goal, ratio in rows:
        if not g:
            continue
        rstr, ok = '', ''
        if ratio:
            rs = [x / y for x, y in zip(g, t)]
            med = statistics.median(rs)
            rstr = span(rs, '%.2f')
            if goal:
                ok = 'yes' if (med <= goal[1] if goal[0] == '<=' else med >= goal[1]) else 'NO'
        elif goal and goal[0] == 'abs<':
            ok = 'yes' if max(abs(x) for x in g) < goal[1] else 'NO'
        gstr = '' if goal is None else ('|drgrade| < %g%%' % goal[1] if goal[0] == 'abs<' else '%s %.2f' % (goal[0].replace('<=', '≤').replace('>=', '≥'), goal[1]))
        tstr = span(t, fmt) if t else 'not run (FULL=1 only)'
        table.append([label, span(g, fmt), tstr, rstr, gstr, ok])

    title = 'make bench (%s): %s interleaved pairs per measurement, %s libtorch threads each' % (a.mode, a.pairs, a.threads)
    foot = 'load average before %s, after %s; %s s' % (a.load_before, a.load_after, a.seconds)
    if a.markdown:
        print('| ' + ' | '.join(head) + ' |')
        print('|' + '---|' * len(head))
        for r in table[1:]:
            print('| ' + ' | '.join(x.replace('|', '\\|') for x in r) + ' |')
        print()
        print(title + '; ' + foot)
        return
    w = [max(len(r[i]) for r in table) for i in range(len(head))]
    line = '+' + '+'.join('-' * (x + 2) for x in w) + '+'
    print()
    print(title)
    print('ratios: drgrade/PyTorch per pair, median (min–max); for times and memory lower is better, for img/s higher')
    print(line)
    for i, r in enumerate(table):
        print('| ' + ' | '.join(x.ljust(w[j]) for j, x in enumerate(r)) + ' |')
        if i == 0:
            print(line)
    print(line)
    print(foot)
    for n in notes:
        print(n)


if __name__ == '__main__':
    main()
