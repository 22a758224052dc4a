#!/usr/bin/env bash
# Render a run's report.html in headless Chromium and save a screenshot, to look at it as a reader would.
#   docs/screenshot_report.sh runs/hymenoptera-efficientnet_lite0-1 docs/report.png [height]
# Needs Debian's `chromium` (apt install chromium). --allow-file-access is not needed: the page embeds everything.
set -euo pipefail
run=${1:?usage: $0 RUN_FOLDER OUTPUT.png [HEIGHT]}
out=${2:?usage: $0 RUN_FOLDER OUTPUT.png [HEIGHT]}
height=${3:-3600}
page="$(cd "$run" && pwd)/report.html"
[ -f "$page" ] || { echo "error: $page does not exist; write it with: visionpath report $run" >&2; exit 2; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,"$height" \
  --screenshot="$(realpath -m "$out")" "file://$page" 2>/dev/null
echo "wrote $out"
