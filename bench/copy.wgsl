// Bandwidth reference for bench/step.mjs: dst[i] = src[i] as vec4, grid-stride. Reads and writes n/4 vec4 once each,
// so 8·n bytes over its time is the device-memory bandwidth a streaming kernel (the optimizer update) can reach.
@group(0) @binding(0) var<storage, read> src: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>;

@compute @workgroup_size(256)
fn copy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n4 = arrayLength(&dst);
  for (var i = gid.x; i < n4; i += nwg.x * 256u) { dst[i] = src[i]; }
}
