# Helpers for hil/tests/*.sh, sourced before each test (busybox sh).

fail() { echo "FAIL: $*"; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }

# Loads a module once (tests may run in any order or alone).
load() { lsmod | grep -q "^$(echo "$1" | tr - _) " || modprobe "$@" || fail "modprobe $*"; }

# Creates a gpio-sim chip with the given line names (bank "door"); sets
# SIM_CHIP (gpiochipN) and SIM_DIR (the simulator's sysfs folder).
# The sim side of line N is $SIM_DIR/sim_gpioN/{value,pull}.
gpio_sim_chip() {
    load gpio-sim
    local bank=/sys/kernel/config/gpio-sim/$1
    shift
    if [ ! -d "$bank" ]; then
        mkdir -p "$bank/bank0"
        echo $# >"$bank/bank0/num_lines"
        local i=0
        for name in "$@"; do
            mkdir "$bank/bank0/line$i"
            echo "$name" >"$bank/bank0/line$i/name"
            i=$((i + 1))
        done
        echo 1 >"$bank/live"
    fi
    SIM_CHIP=$(cat "$bank/bank0/chip_name")
    SIM_DIR=/sys/devices/platform/$(cat "$bank/dev_name")/$SIM_CHIP
}

# Waits up to $2 tenths of a second for file $1 to read $3.
wait_for_value() {
    local i=0
    while [ $i -lt "$2" ]; do
        [ "$(cat "$1")" = "$3" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# Prints /dev/videoN of the first capture node whose name contains $1.
video_device() {
    for node in /sys/class/video4linux/video*; do
        [ -e "$node/name" ] || continue
        if grep -q "$1" "$node/name"; then echo "/dev/$(basename "$node")"; return 0; fi
    done
    return 1
}

# Waits up to $2 tenths of a second for $1 to contain the text $3.
wait_for_text() {
    local i=0
    while [ $i -lt "$2" ]; do
        grep -q "$3" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# Seconds since boot with centisecond resolution, as "12345" hundredths.
uptime_cs() { tr -d . </proc/uptime | cut -d' ' -f1; }

# Asserts that the JSON line(s) in file $1 contain "$2" literally.
expect_json() { grep -q "$2" "$1" || fail "expected $2 in: $(cat "$1")"; }

# The kernel's gpio tracepoint, for tests that read which levels a program drove on the relay, line 0 of
# $SIM_CHIP (gpio-sim lets a freed line fall to its pull, whatever was driven, so its value cannot tell).
# Sets `tracing` and `relay_gpio` (the line's number in the kernel's global space, which the trace uses).
# The tracepoint is enabled once and each run is read after a marker (relay_levels_since): enabling a
# tracepoint patches kernel text on every CPU and clearing the buffer waits on every CPU, and under qemu's
# TCG toggling them around each run once left the kernel in a soft lockup. Tracing is turned off when the
# test exits, pass or fail (the event stays enabled: turning it off would patch the kernel's text again,
# for nothing once the ring buffer is off).
gpio_trace_relay() {
    tracing=/sys/kernel/tracing
    [ -d $tracing/events ] || mount -t tracefs none $tracing || fail "cannot mount tracefs"
    [ -d $tracing/events/gpio/gpio_value ] || fail "the kernel has no gpio_value tracepoint"
    # (The class device sits beside the chip under gpio-sim's platform device, which has one bank here.)
    relay_gpio=$(cat $(dirname $SIM_DIR)/gpio/gpiochip*/base 2>/dev/null) || fail "no base for $SIM_CHIP"
    echo 1 >$tracing/events/gpio/gpio_value/enable
    echo 1 >$tracing/tracing_on
    trap 'echo 0 >$tracing/tracing_on' EXIT
}

# How long, in milliseconds by the trace's own timestamps, the relay was held at level $2 the first time it
# was driven there after the trace marker $1: from that set to the next set of another level. Timed in the
# kernel as the program drove the line, not by a shell polling the sim, whose every look costs a fork and
# a sleep that a loaded host stretches (under TCG one poll was 110 ms late and a 1500 ms pulse measured
# 1390). Prints nothing when the relay never left that level.
relay_held_ms_since() {
    sed -n "/$1\$/,\$p" $tracing/trace | awk -v gpio="$relay_gpio" -v level="$2" '
        / gpio_value: / {
            for (i = 1; i <= NF; i++) if ($i == "gpio_value:") break
            if ($(i + 1) != gpio || $(i + 2) != "set") next
            at = $(i - 1); sub(/:$/, "", at)
            if (start == "" && $(i + 3) == level) start = at
            else if (start != "" && $(i + 3) != level) { printf "%d\n", (at - start) * 1000 + 0.5; exit }
        }'
}

# Every level driven on the relay since the trace marker $1 was written, in order: "0 1 ...".
relay_levels_since() {
    sed -n "/$1\$/,\$p" $tracing/trace | grep -o "gpio_value: *$relay_gpio set [01]" | sed 's/.* set //' | tr '\n' ' '
}
