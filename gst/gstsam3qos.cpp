#include "gstsam3qos.h"

GstClockTime gst_sam3_qos_earliest_time(GstEvent *qos_event, GstClockTime current) {
  GstQOSType type;
  gdouble proportion;
  GstClockTimeDiff diff;
  GstClockTime timestamp;
  gst_event_parse_qos(qos_event, &type, &proportion, &diff, &timestamp);
  if (type == GST_QOS_TYPE_THROTTLE || !GST_CLOCK_TIME_IS_VALID(timestamp))
    return current;
  /* A late frame: everything up to (timestamp + lateness) is already too late, and the
   * doubled lateness gives the element room to catch up. */
  return diff > 0 ? timestamp + 2 * diff : timestamp + diff;
}

gboolean gst_sam3_qos_is_late(GstBaseTransform *trans, GstBuffer *buf, GstClockTime earliest_time) {
  const GstClockTime ts = GST_BUFFER_PTS(buf);
  if (!GST_CLOCK_TIME_IS_VALID(ts) || !GST_CLOCK_TIME_IS_VALID(earliest_time))
    return FALSE;
  const GstClockTime running = gst_segment_to_running_time(&trans->segment, GST_FORMAT_TIME, ts);
  return GST_CLOCK_TIME_IS_VALID(running) && running < earliest_time;
}
