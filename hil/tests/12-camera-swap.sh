# Two cameras of the same model, and while this door's is away (here: it stalls) the other door's
# appears at the configured path, as a USB re-enumeration may swap them: it is refused ("a different
# camera is at camera.device"), never streamed, and the door's own camera is taken back when it returns.
# timeout: 120
# Two loopback cameras with the same card name; their bus_info differs (platform:v4l2loopback-000, -001).
# (Other tests load the module with one device: it is loaded again with two.)
if [ ! -e /dev/video43 ]; then
    rmmod v4l2loopback 2>/dev/null
    modprobe v4l2loopback devices=2 video_nr=42,43 exclusive_caps=1,1 card_label=facegate-loopback,facegate-loopback \
        || fail "modprobe v4l2loopback devices=2"
fi
facegate camera feed --device /dev/video42 --photos /hil/photos --fps 10 >/tmp/ours.log 2>&1 &
ours=$!
facegate camera feed --device /dev/video43 --photos /hil/photos --fps 10 >/tmp/theirs.log 2>&1 &
theirs=$!
stop_all() { kill -CONT $ours 2>/dev/null; kill $ours $theirs ${probe:-} 2>/dev/null; }
wait_for_text /tmp/ours.log 100 feeding || { stop_all; fail "feeder did not start: $(cat /tmp/ours.log)"; }
wait_for_text /tmp/theirs.log 100 feeding || { stop_all; fail "feeder did not start: $(cat /tmp/theirs.log)"; }
sleep 1
ln -sf /dev/video42 /tmp/door-camera
facegate camera probe --device /tmp/door-camera --format YUYV --frames 30 --stall-timeout 2 --seconds 90 \
    >/tmp/swap.json 2>/tmp/swap.err &
probe=$!
wait_for_text /tmp/swap.json 200 streaming || { stop_all; fail "never streamed: $(cat /tmp/swap.err)"; }
sleep 1
kill -STOP $ours
wait_for_text /tmp/swap.json 100 'lost: stalled' || { stop_all; fail "stall not reported: $(cat /tmp/swap.json)"; }
# The other door's camera takes the path, streaming.
ln -sf /dev/video43 /tmp/door-camera
wait_for_text /tmp/swap.json 150 'failed: differentCamera' || { stop_all; fail "the other camera was not refused: $(cat /tmp/swap.json)"; }
cat /tmp/swap.err /tmp/swap.json | grep -q 'a different camera is at camera.device' || { stop_all; fail "not logged: $(cat /tmp/swap.err)"; }
sleep 3
if grep -q 'recovered' /tmp/swap.json; then stop_all; fail "streamed from the other camera: $(cat /tmp/swap.json)"; fi
# The door's own camera comes back.
ln -sf /dev/video42 /tmp/door-camera
kill -CONT $ours
wait $probe
code=$?
probe=
stop_all
wait $ours $theirs 2>/dev/null
cat /tmp/swap.json
[ $code = 0 ] || fail "probe failed: $(cat /tmp/swap.err)"
expect_json /tmp/swap.json 'recovered after'
expect_json /tmp/swap.json '"frames":30'
