/* gst-sam3: sam3export writes each frame's SAM 3 results as one JSON object per line. */
#ifndef __GST_SAM3_EXPORT_H__
#define __GST_SAM3_EXPORT_H__

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstSam3ExportMethod:
 * @GST_SAM3_EXPORT_METHOD_FILE: JSON Lines to #GstSam3Export:location
 * @GST_SAM3_EXPORT_METHOD_MQTT: one MQTT message per frame to #GstSam3Export:address
 *
 * Where sam3export sends each frame's JSON.
 */
typedef enum {
  GST_SAM3_EXPORT_METHOD_FILE = 0,
  GST_SAM3_EXPORT_METHOD_MQTT = 1,
} GstSam3ExportMethod;

#define GST_TYPE_SAM3_EXPORT_METHOD (gst_sam3_export_method_get_type())
GType gst_sam3_export_method_get_type(void);

#define GST_TYPE_SAM3_EXPORT (gst_sam3_export_get_type())
G_DECLARE_FINAL_TYPE(GstSam3Export, gst_sam3_export, GST, SAM3_EXPORT, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(sam3export);

G_END_DECLS

#endif /* __GST_SAM3_EXPORT_H__ */
