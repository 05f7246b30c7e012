/* gst-sam3: the QoS rule sam3detect and sam3track share: downstream's QOS events say from
 * which running time on frames are no longer late; inference is skipped before that.
 */
#ifndef __GST_SAM3_QOS_H__
#define __GST_SAM3_QOS_H__

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

/* The running time before which frames are late, from a QOS event; @current when the event
 * says nothing about lateness (throttling, no timestamp). */
GstClockTime gst_sam3_qos_earliest_time(GstEvent *qos_event, GstClockTime current);

/* Whether @buf's running time in @trans's segment lies before @earliest_time. */
gboolean gst_sam3_qos_is_late(GstBaseTransform *trans, GstBuffer *buf, GstClockTime earliest_time);

#endif /* __GST_SAM3_QOS_H__ */
