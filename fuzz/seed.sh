#!/bin/sh
# Seeds each fuzz target's corpus from the repository's fixtures (run from the repository root).
set -e
mkdir -p fuzz/corpus/signin_csv fuzz/corpus/audit_csv fuzz/corpus/message_trace \
  fuzz/corpus/json_stream fuzz/corpus/auditdata_json fuzz/corpus/time_parse fuzz/corpus/ip_parse
body() { tail -n +2 "$1"; }
body fixtures/variants/signin/InteractiveSignIns_2024-03-04_2024-03-05.csv > fuzz/corpus/signin_csv/interactive
body fixtures/variants/noninteractive/NonInteractiveSignIns_2024-03-05_2024-03-06.csv > fuzz/corpus/signin_csv/noninteractive
body fixtures/bad/bad_rows_signin.csv > fuzz/corpus/signin_csv/bad_rows
body fixtures/variants/audit/purview_export_new.csv > fuzz/corpus/audit_csv/purview
body fixtures/bad/invalid_auditdata.csv > fuzz/corpus/audit_csv/invalid
body fixtures/bad/truncated_export.csv > fuzz/corpus/audit_csv/truncated
body fixtures/variants/messagetrace/Get-MessageTrace_v1.csv > fuzz/corpus/message_trace/v1
for f in fixtures/variants/*/*.json fixtures/variants/*/*.jsonl fixtures/bad/not_json.json; do
  cp "$f" "fuzz/corpus/json_stream/$(basename "$f")"
done
head -c 4000 fixtures/variants/audit/auditdata_only.jsonl | head -n 3 | split -l 1 - fuzz/corpus/auditdata_json/record_
printf '2024-05-13T14:19:37Z' > fuzz/corpus/time_parse/iso
printf '13/05/2024 14:19:37' > fuzz/corpus/time_parse/dmy
printf '5/13/2024 2:19:37 PM' > fuzz/corpus/time_parse/us
printf '2024-05-13T14:19:37.1234567+02:00' > fuzz/corpus/time_parse/offset
printf '188.166.14.77:443' > fuzz/corpus/ip_parse/v4port
printf '[2001:db8::1]:443' > fuzz/corpus/ip_parse/v6port
printf '::ffff:10.0.0.1' > fuzz/corpus/ip_parse/mapped
