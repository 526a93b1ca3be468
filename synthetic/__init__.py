"""The departments' synthetic source systems for the demo and the benchmarks (`hub seed`,
`hub sources`): department databases (SQL), the GIS drop folder (GeoJSON / GeoPackage), the video
platform's HTTP API and IoT sensors on a real Mosquitto — deterministic per seed and scale, with the
DOMAIN §5 defects injected at their rates and listed, record by record, in var/sources/manifest.json.

Modules: `generate` (orchestration, registry of hand-made generators, manifest), one generator
module per domain (`people`, `entities`, `meters`, `gis`, `video`, `iot`, `generic`), `defects`
(plan and ground-truth tally), `sinks` / `sqlstore` / `gisfiles` (writers per system),
`video_service`, `mosquitto`, `publisher`, `services` (the running parts) and `cli`.
"""
