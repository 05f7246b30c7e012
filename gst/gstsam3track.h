/* gst-sam3: sam3track keeps the identity of every instance across frames with SAM 3's
 * memory-bank tracker and video loop. */
#ifndef __GST_SAM3_TRACK_H__
#define __GST_SAM3_TRACK_H__

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_SAM3_TRACK (gst_sam3_track_get_type())
G_DECLARE_FINAL_TYPE(GstSam3Track, gst_sam3_track, GST, SAM3_TRACK, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(sam3track);

G_END_DECLS

#endif /* __GST_SAM3_TRACK_H__ */
