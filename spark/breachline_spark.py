#!/usr/bin/env python3
"""breachline on Apache Spark: the stages of `breachline analyze`, distributed.

Spark distributes, breachline decides: every step below runs the breachline binary (shipped to
the executors), so the rules, the verdicts and the report schemas are breachline's own. Spark
only lists the evidence, runs one `breachline normalize` per file, shuffles the events by account
into groups, and runs the per-group stages (`breachline stage ...`, docs/stages.md) in rounds.

    spark-submit --master 'local[2]' spark/breachline_spark.py EVIDENCE... \\
        --breachline target/release/breachline --out case/

docs/spark.md has the cluster commands and what every option does.
"""

import argparse
import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

# Files `stage combine` writes, copied into --out.
CASE_FILES = ["summary.json", "findings.json", "blast_radius.json", "recipients.csv"]
# What this job writes in --out; a folder holding anything else is not ours and is refused.
OUT_ENTRIES = set(CASE_FILES) | {"timeline.parquet", "_work", "_SUCCESS"}
# Subfolders and files of --work that belong to one run (cleared before a run).
WORK_ENTRIES = [
    "normalized",
    "groups",
    "profiles",
    "context.json",
    "peaks",
    "context-peaks.json",
    "results",
    "attackers.json",
    "timeline",
    "pivots",
    "case",
    "ship",
]
# The events are grouped and ordered in each group by this key (a total order: one event's rows
# in several timelines differ by timeline_user, two exports' copies of a record by origin_file).
SORT_KEY = ["timeline_user", "time_unix_ms", "origin_file", "origin_record", "origin_part"]
# How much of a failed step's standard error is shown.
STDERR_TAIL = 8000

URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")


def is_uri(path):
    """A Hadoop file system path (s3a://, abfss://, hdfs://, dbfs:/...), not a local one."""
    return bool(URI.match(path)) and not path.startswith("file:")


def plain(path):
    """A `file:` URI as the local path it names."""
    if path.startswith("file://"):
        return path[len("file://"):] or "/"
    if path.startswith("file:"):
        return path[len("file:"):]
    return path


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="breachline_spark.py",
        description="Runs breachline's stages on Apache Spark (docs/spark.md).",
    )
    p.add_argument("evidence", nargs="+", metavar="PATH",
                   help="export files or folders (any variant analyze reads, breachline Parquet too)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="case folder: a local path or any Hadoop file system path")
    p.add_argument("--breachline", required=True, metavar="PATH",
                   help="the breachline binary (Linux, for the executors' platform)")
    p.add_argument("--work", metavar="DIR",
                   help="scratch folder for the files between steps, seen at the same path by the "
                        "driver and every executor (default: OUT/_work)")
    p.add_argument("--groups", type=int, metavar="N",
                   help="account groups: one task per group in every round (default: twice the "
                        "default parallelism)")
    p.add_argument("--normalize-tasks", type=int, metavar="N",
                   help="normalize tasks, each a shard of the evidence files (default: one per "
                        "file found)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads of each breachline call on the executors (default: one per core "
                        "of the node; set it to spark.task.cpus on a shared cluster)")
    p.add_argument("--rules", action="append", default=[], metavar="DIR",
                   help="a rules folder, as analyze --rules (repeatable)")
    p.add_argument("--disable", action="append", default=[], metavar="ID")
    p.add_argument("--param", action="append", default=[], metavar="RULE.NAME=VALUE")
    p.add_argument("--sigma", action="append", default=[], metavar="PATH")
    p.add_argument("--tenant-domain", action="append", default=[], metavar="DOMAIN")
    p.add_argument("--geoip-city", metavar="FILE")
    p.add_argument("--geoip-asn", metavar="FILE")
    p.add_argument("--network-config", metavar="FILE")
    p.add_argument("--master", metavar="URL",
                   help="Spark master when run with plain python instead of spark-submit")
    args = p.parse_args(argv)
    args.out = plain(args.out)
    if args.work is not None:
        args.work = plain(args.work)
    if args.groups is not None and args.groups < 1:
        p.error("--groups must be at least 1")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be at least 1")
    if args.normalize_tasks is not None and args.normalize_tasks < 1:
        p.error("--normalize-tasks must be at least 1")
    if args.work is None:
        if is_uri(args.out):
            p.error("--out is a Hadoop file system path: name a --work folder every node sees")
        args.work = os.path.join(args.out, "_work")
    if is_uri(args.work):
        p.error("--work must be a file system path every node sees at the same place "
                "(a local folder with local[N]; a shared mount such as /dbfs or NFS on a cluster)")
    return args


# ---------------------------------------------------------------------------------------------
# On the executors (and the driver): the shipped binary and rules.

def shipped(name):
    """The path of a file or folder shipped with SparkContext.addFile."""
    from pyspark import SparkFiles
    return SparkFiles.get(name)


def executable(path):
    """`path`, made executable; a copy when the shipped file cannot be changed."""
    if os.access(path, os.X_OK):
        return path
    try:
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path
    except OSError:
        copy = os.path.join(tempfile.mkdtemp(prefix="breachline-bin-"), os.path.basename(path))
        shutil.copy(path, copy)
        os.chmod(copy, 0o755)
        return copy


def run(cmd, cwd=None):
    """Runs one breachline command; what the driver needs to report it."""
    started = time.time()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return {
        "cmd": cmd,
        "rc": proc.returncode,
        "stderr": proc.stderr.decode("utf-8", "replace")[-STDERR_TAIL:],
        "seconds": round(time.time() - started, 3),
    }


class Plan:
    """What every task needs to know, sent to the executors with each task."""

    def __init__(self, args, binary_name, rule_names, sigma_names, geo_names, cwd):
        self.binary_name = binary_name
        self.geo_names = geo_names
        self.rule_names = rule_names
        self.sigma_names = sigma_names
        self.disable = list(args.disable)
        self.param = list(args.param)
        self.cwd = cwd
        self.threads = args.threads

    def binary(self):
        """The command line's start: the shipped binary and the options every call takes."""
        cmd = [executable(shipped(self.binary_name)), "--quiet"]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        return cmd

    def geo_options(self):
        opts = []
        for opt, name in self.geo_names:
            opts += [opt, shipped(name)]
        return opts

    def rule_options(self):
        opts = []
        for name in self.rule_names:
            opts += ["--rules", shipped(name)]
        for name in self.sigma_names:
            opts += ["--sigma", shipped(name)]
        for d in self.disable:
            opts += ["--disable", d]
        for p in self.param:
            opts += ["--param", p]
        return opts


def normalize_task(plan, work, evidence, shards):
    """Shard i of n: `normalize` reads the files whose place in breachline's own walk of the
    evidence is i modulo n (what a folder holds and skips is breachline's call, as in analyze)."""
    def task(index):
        out = os.path.join(work, "normalized", "%05d" % index)
        # Evidence is cited as it was named on the driver: a relative path is run from the
        # driver's folder when the executor sees it (always with local[N]).
        cwd = plan.cwd if os.path.isdir(plan.cwd) else None
        r = run(plan.binary() + ["normalize"] + list(evidence)
                + ["--shard", "%d/%d" % (index, shards), "--out", out], cwd=cwd)
        r["item"] = "shard %d/%d" % (index, shards)
        return r
    return task


def group_task(plan, step, work, extra):
    """One per-group stage (profile, peaks, assess, pivots) for group files (index, path)."""
    def task(item):
        index, group = item
        name = "%05d" % index
        folder = {"profile": "profiles", "peaks": "peaks", "assess": "results",
                  "pivots": "pivots"}[step]
        prefix = {"profile": "profile", "peaks": "peaks", "assess": "result",
                  "pivots": "pivots"}[step]
        out = os.path.join(work, folder, "%s-%s.json" % (prefix, name))
        cmd = plan.binary() + ["stage", step, group] + list(extra) + ["--out", out]
        if step != "profile":
            cmd += plan.geo_options()
        if step in ("peaks", "assess"):
            cmd += plan.rule_options()
        if step == "assess":
            cmd += ["--timeline", os.path.join(work, "timeline", "part-%s.parquet" % name)]
        r = run(cmd)
        r["item"] = group
        r["output"] = out
        return r
    return task


# ---------------------------------------------------------------------------------------------
# On the driver.

def log(msg):
    print("breachline-spark: " + msg, file=sys.stderr, flush=True)


class StepFailed(Exception):
    pass


def check(step, results):
    """Stops the job, with each failed call's command and standard error, when one failed."""
    failed = [r for r in results if r["rc"] != 0]
    if not failed:
        return
    lines = ["%s failed for %d of %d call(s)" % (step, len(failed), len(results))]
    for r in failed[:5]:
        lines.append("$ " + " ".join(r["cmd"]))
        lines.append("exit status %d; standard error:" % r["rc"])
        lines.append(r["stderr"].rstrip() or "(empty)")
    if len(failed) > 5:
        lines.append("... and %d more" % (len(failed) - 5))
    raise StepFailed("\n".join(lines))


def run_on_driver(step, cmd):
    r = run(cmd)
    check(step, [r])
    return r


def count_files(paths):
    """How many files the evidence holds, counted on the driver: the default number of normalize
    tasks (breachline's walk decides what each file is; a zip's members are one file here)."""
    n = 0
    for path in paths:
        if os.path.isdir(path):
            for _, _, names in os.walk(path):
                n += len(names)
        elif os.path.exists(path):
            n += 1
        else:
            raise StepFailed("evidence %s does not exist" % path)
    return n


def clear_work(work):
    os.makedirs(work, exist_ok=True)
    for entry in WORK_ENTRIES:
        p = os.path.join(work, entry)
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.remove(p)
    for folder in ["normalized", "profiles", "peaks", "results", "timeline", "pivots", "ship"]:
        os.makedirs(os.path.join(work, folder))


def inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_out(out, work, evidence):
    """Refuses an --out folder that holds anything this job does not write, and an --out or
    --work inside the evidence (the next run would read the case as evidence)."""
    for path in evidence:
        if os.path.isdir(path):
            for mine, what in ((out, "--out"), (work, "--work")):
                if mine is not None and inside(mine, path):
                    raise StepFailed("%s %s is inside the evidence folder %s" % (what, mine, path))
    if out is None or not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise StepFailed("--out %s is a file, not a folder" % out)
    foreign = sorted(e for e in os.listdir(out)
                     if e not in OUT_ENTRIES and not e.startswith("."))
    if foreign:
        raise StepFailed("--out %s holds files this job did not write (%s): name an empty or "
                         "new folder" % (out, ", ".join(foreign[:5])))


def ship(sc, work, path, kind):
    """Ships a file or folder to the executors; returns the name they find it under. Each is
    copied under a name of its own first, so two rules folders called `rules` do not clash."""
    if not os.path.exists(path):
        raise StepFailed("%s %s does not exist" % (kind, path))
    base = os.path.basename(os.path.normpath(path)) or kind
    name = "%s-%d-%s" % (kind, len(os.listdir(os.path.join(work, "ship"))), base)
    dest = os.path.join(work, "ship", name)
    if os.path.isdir(path):
        shutil.copytree(path, dest)
        sc.addFile(dest, recursive=True)
    else:
        shutil.copy2(path, dest)
        sc.addFile(dest)
    return name


def spark_session(args):
    from pyspark.sql import SparkSession
    builder = SparkSession.builder.appName("breachline")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def parallel(sc, items, fn):
    """Runs fn on every item, one task each, and brings the (small) results to the driver."""
    if not items:
        return []
    return sc.parallelize(items, len(items)).map(fn).collect()


def write_groups(spark, work, inputs, groups):
    """Reads the events of every file and writes them as `groups` Parquet files, every row of
    one account in the same file, each file in (account, time, origin) order."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType, IntegerType, LongType
    events = spark.read.parquet(*inputs)
    # Spark reads Parquet's unsigned integers as long (UInt32) and decimal(20,0) (UInt64) and
    # cannot write unsigned types: the integer columns go back as Int64, which breachline reads.
    for field in events.schema.fields:
        if isinstance(field.dataType, (DecimalType, IntegerType)):
            events = events.withColumn(field.name, F.col(field.name).cast(LongType()))
    (events.repartition(groups, "timeline_user")
        .sortWithinPartitions(*SORT_KEY)
        .write.mode("overwrite")
        .option("compression", "zstd")
        .option("maxRecordsPerFile", 0)
        .parquet(os.path.join(work, "groups")))
    return sorted(glob.glob(os.path.join(work, "groups", "part-*.parquet")))


def hadoop_copy(spark, local, dest):
    """Copies a local file or folder to a Hadoop file system path (object storage, HDFS)."""
    jvm = spark._jvm
    Path = jvm.org.apache.hadoop.fs.Path
    target = Path(dest)
    fs = target.getFileSystem(spark._jsc.hadoopConfiguration())
    fs.delete(target, True)
    fs.copyFromLocalFile(False, True, Path("file://" + os.path.abspath(local)), target)


def preflight(args):
    """What can be refused before Spark starts."""
    if not os.path.isfile(args.breachline):
        raise StepFailed("--breachline %s is not a file" % args.breachline)
    for path in args.rules + args.sigma + [p for p in (args.geoip_city, args.geoip_asn,
                                                       args.network_config) if p]:
        if not os.path.exists(path):
            raise StepFailed("%s does not exist" % path)
    count_files(args.evidence)
    work = os.path.abspath(args.work)
    if is_uri(args.out):
        check_out(None, work, args.evidence)
    else:
        check_out(os.path.abspath(args.out), work, args.evidence)


def pipeline(spark, args):
    sc = spark.sparkContext
    work = os.path.abspath(args.work)
    out = args.out if is_uri(args.out) else os.path.abspath(args.out)
    clear_work(work)
    if not is_uri(out) and os.path.isdir(out):
        # A previous run's case files go first, so that a failed run leaves none behind.
        for name in CASE_FILES + ["timeline.parquet", "_SUCCESS"]:
            p = os.path.join(out, name)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)
    started = time.time()
    timings = {}

    def lap(step, since):
        timings[step] = round(time.time() - since, 3)
        log("%s: %.1f s" % (step, timings[step]))
        return time.time()

    binary = os.path.abspath(args.breachline)
    binary_name = ship(sc, work, binary, "bin")
    driver_binary = executable(binary)
    rule_names = [ship(sc, work, r, "rules") for r in args.rules]
    sigma_names = [ship(sc, work, s, "sigma") for s in args.sigma]
    # GeoIP databases and network config: `stage context` on the driver and the group steps.
    geo, geo_names = [], []
    for opt, value in (("--geoip-city", args.geoip_city), ("--geoip-asn", args.geoip_asn),
                       ("--network-config", args.network_config)):
        if value:
            geo += [opt, os.path.abspath(value)]
            geo_names.append((opt, ship(sc, work, value, "geo")))
    plan = Plan(args, binary_name, rule_names, sigma_names, geo_names, os.getcwd())

    # normalize: one task per evidence file (a shard of breachline's walk of the evidence).
    t = time.time()
    files = count_files(args.evidence)
    shards = args.normalize_tasks or max(1, files)
    results = parallel(sc, list(range(shards)),
                       normalize_task(plan, work, args.evidence, shards))
    check("normalize", results)
    normalized = [os.path.join(work, "normalized", "%05d" % i) for i in range(shards)]
    ingests = [os.path.join(d, "ingest.json") for d in normalized]
    inputs = [os.path.join(d, "events.parquet") for d in normalized
              if os.path.isfile(os.path.join(d, "events.parquet"))]
    t = lap("normalize (%d files, %d tasks)" % (files, shards), t)

    # grouping: every row of an account in one group.
    groups = args.groups or max(1, 2 * sc.defaultParallelism)
    if not inputs:
        raise StepFailed("no events in the evidence: normalize read no row of %s (see the "
                         "ingest.json files in %s)" % (" ".join(args.evidence),
                                                       os.path.join(work, "normalized")))
    group_files = write_groups(spark, work, inputs, groups)
    items = list(enumerate(group_files))
    t = lap("group (%d groups)" % len(group_files), t)

    profiles = parallel(sc, items, group_task(plan, "profile", work, []))
    check("stage profile", profiles)
    t = lap("stage profile", t)

    tenant = []
    for d in args.tenant_domain:
        tenant += ["--tenant-domain", d]
    profile_files = [r["output"] for r in profiles]
    context = os.path.join(work, "context.json")
    run_on_driver("stage context", [driver_binary, "--quiet", "stage", "context"] + profile_files
                  + tenant + geo + ["--out", context])
    t = lap("stage context", t)

    peaks = parallel(sc, items, group_task(plan, "peaks", work, ["--context", context]))
    check("stage peaks", peaks)
    t = lap("stage peaks", t)

    context_peaks = os.path.join(work, "context-peaks.json")
    peak_files = [r["output"] for r in peaks]
    run_on_driver("stage context --peaks",
                  [driver_binary, "--quiet", "stage", "context"] + profile_files
                  + (["--peaks"] + peak_files if peak_files else [])
                  + tenant + geo + ["--out", context_peaks])
    t = lap("stage context --peaks", t)

    assessed = parallel(sc, items, group_task(plan, "assess", work, ["--context", context_peaks]))
    check("stage assess", assessed)
    result_files = [r["output"] for r in assessed]
    t = lap("stage assess", t)

    # Every group's compromised accounts in one small file, which each pivots task reads (rather
    # than every group's results: that would grow with the square of the number of groups).
    attackers = os.path.join(work, "attackers.json")
    run_on_driver("stage attackers", [driver_binary, "--quiet", "stage", "attackers"]
                  + result_files + ["--out", attackers])
    t = lap("stage attackers", t)

    pivots = parallel(sc, items, group_task(
        plan, "pivots", work, ["--context", context_peaks, "--results", attackers]))
    check("stage pivots", pivots)
    t = lap("stage pivots", t)

    case = os.path.join(work, "case")
    cmd = [driver_binary, "--quiet", "stage", "combine", "--context", context_peaks]
    if result_files:
        cmd += ["--results"] + result_files
    if pivots:
        cmd += ["--pivots"] + [r["output"] for r in pivots]
    cmd += ["--ingest"] + ingests + ["--out", case]
    run_on_driver("stage combine", cmd)
    t = lap("stage combine", t)

    # The case folder: combine's files and the groups' timeline parts.
    timeline = os.path.join(work, "timeline")
    if is_uri(out):
        for name in CASE_FILES:
            hadoop_copy(spark, os.path.join(case, name), out.rstrip("/") + "/" + name)
        hadoop_copy(spark, timeline, out.rstrip("/") + "/timeline.parquet")
    else:
        os.makedirs(out, exist_ok=True)
        for name in CASE_FILES:
            shutil.copyfile(os.path.join(case, name), os.path.join(out, name))
        dest = os.path.join(out, "timeline.parquet")
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        elif os.path.exists(dest):
            os.remove(dest)
        shutil.copytree(timeline, dest)
    lap("write %s" % out, t)
    timings["total"] = round(time.time() - started, 3)
    with open(os.path.join(work, "timings.json"), "w") as f:
        json.dump(timings, f, indent=1)
    log("done in %.1f s: %s" % (timings["total"], out))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        preflight(args)
    except StepFailed as e:
        log(str(e))
        return 1
    spark = spark_session(args)
    code = 0
    try:
        pipeline(spark, args)
    except StepFailed as e:
        log(str(e))
        code = 1
    finally:
        spark.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
