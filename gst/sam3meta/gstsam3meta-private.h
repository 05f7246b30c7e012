/* gst-sam3: what the files of libgstsam3meta share; not installed. G_GNUC_INTERNAL keeps
 * these names out of the library's ABI.
 */
#ifndef __GST_SAM3_META_PRIVATE_H__
#define __GST_SAM3_META_PRIVATE_H__

#include "gstsam3meta.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL GST_DEBUG_CATEGORY_EXTERN(gst_sam3_meta_debug);
#define GST_CAT_DEFAULT gst_sam3_meta_debug

/* Mask samples at or above this value are "inside" (BINARY rendering and the RLE). */
#define MASK_ON_THRESHOLD 128

/* A new GRAY8 buffer of @width x @height samples, rows packed, with a GstVideoMeta saying
 * so; the contents are uninitialised. */
G_GNUC_INTERNAL GstBuffer *gst_sam3_new_gray8_buffer(guint width, guint height);

G_END_DECLS

#endif /* __GST_SAM3_META_PRIVATE_H__ */
