/* gst-sam3: the model's mask logits as the box-cropped GRAY8 masks of
 * GstSam3Meta, shared by sam3detect and sam3track so both store masks the same way.
 */
#ifndef __GST_SAM3_MASKS_H__
#define __GST_SAM3_MASKS_H__

#include "gstsam3meta.h"

#include <torch/torch.h>

/* Sets @instance's mask from @logits, (h, w) logits over the whole frame_width x
 * frame_height frame, sampled over the instance's box (clipped to the frame). Probabilities are
 * stored so that 128 falls exactly on @mask_threshold: binary renderings of the meta
 * (threshold 128) then honour it, and the values stay monotonic in the probability. An
 * instance whose box is empty on the frame gets no mask. */
void gst_sam3_instance_set_mask_from_logits(GstSam3Instance *instance, const torch::Tensor &logits,
                                            gint frame_width, gint frame_height,
                                            float mask_threshold);

/* Sets @instance's mask from @logits, (height, width) logits already at the frame's size over
 * the frame rectangle (@x, @y, @width, @height), stored as gst_sam3_instance_set_mask_from_logits
 * stores them. */
void gst_sam3_instance_set_mask_from_frame_logits(GstSam3Instance *instance,
                                                  const torch::Tensor &logits, gint x, gint y,
                                                  float mask_threshold);

#endif /* __GST_SAM3_MASKS_H__ */
