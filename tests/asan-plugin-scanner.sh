#!/bin/sh
# GStreamer's plugin scanner for the sanitizer test build (GST_PLUGIN_SCANNER_1_0): the
# installed scanner is not instrumented, so the ASAN runtime (and libstdc++, whose
# __cxa_throw ASAN intercepts) must be loaded first for it to open our plugin. Leaks of the
# third-party plugins it opens are not ours to report.
LD_PRELOAD="$SAM3_ASAN_PRELOAD" ASAN_OPTIONS=detect_leaks=0 exec "$SAM3_REAL_PLUGIN_SCANNER" "$@"
