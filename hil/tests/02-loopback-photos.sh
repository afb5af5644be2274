# Real photos fed into v4l2loopback as YUYV come back out of a V4L2 capture equal, byte for byte (luma).
load v4l2loopback devices=1 video_nr=42 exclusive_caps=1 card_label=facegate-loopback
facegate camera feed --device /dev/video42 --photos /hil/photos --fps 10 >/tmp/feed.log 2>&1 &
feeder=$!
wait_for_text /tmp/feed.log 50 feeding || fail "feeder did not start: $(cat /tmp/feed.log)"
sleep 1
facegate camera probe --device /dev/video42 --format YUYV --size 640x480 --frames 12 --photos /hil/photos \
    --models /hil/models --seconds 90 \
    >/tmp/probe.json 2>/tmp/probe.err
code=$?
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
cat /tmp/probe.json
[ $code = 0 ] || fail "probe failed: $(cat /tmp/probe.err)"
expect_json /tmp/probe.json '"frames":12'
expect_json /tmp/probe.json '"matched":12'
photos=$(ls /hil/photos | wc -l)
expect_json /tmp/probe.json "\"photosSeen\":$photos"
# The quality core finds the face in every photo that came through the camera.
expect_json /tmp/probe.json "\"photosWithFace\":$photos"
