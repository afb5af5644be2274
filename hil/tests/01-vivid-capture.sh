# vivid's webcam input: YUYV 640x480 negotiated, frames counted, driver timestamps increasing.
load vivid n_devs=1 node_types=0x1
device=$(video_device vivid) || fail "vivid made no capture node"
facegate camera list >/tmp/list.txt || fail "camera list failed"
grep -q "YUYV" /tmp/list.txt || fail "camera list shows no YUYV: $(cat /tmp/list.txt)"
grep -q "640x480" /tmp/list.txt || fail "camera list shows no 640x480"
facegate camera probe --device "$device" --format YUYV --size 640x480 --frames 20 --seconds 45 >/tmp/probe.json \
    || fail "probe failed: $(cat /tmp/probe.json)"
cat /tmp/probe.json
expect_json /tmp/probe.json '"frames":20'
expect_json /tmp/probe.json '"timestampsIncreasing":true'
expect_json /tmp/probe.json '"width":640'
# A format the device lacks is a clear error, not a hang.
if facegate camera capture --device "$device" --format MJPG --frames 1 --out /tmp/mjpg 2>/tmp/err.txt; then
    fail "MJPG capture from vivid should fail"
fi
grep -q "does not offer the pixel format asked for; it offers .*YUYV" /tmp/err.txt || fail "unclear error: $(cat /tmp/err.txt)"
# What was asked for (a configuration value, under the daemon) is not echoed; the camera's own formats are.
! grep -q "MJPG" /tmp/err.txt || fail "the format asked for is echoed: $(cat /tmp/err.txt)"
# And capture saves JPEG files.
facegate camera capture --device "$device" --frames 3 --out /tmp/frames >/dev/null || fail "capture failed"
[ "$(ls /tmp/frames | wc -l)" = 3 ] || fail "expected 3 JPEG files"
