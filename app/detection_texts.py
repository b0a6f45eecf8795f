"""The "what am I looking at" texts of the Detection tab: 2-3 plain sentences each, for a student."""

BOXES_SET = ("Each box is the answer of one object query. A DETR-style model predicts a fixed set of boxes at "
             "once, each with a class or \"no object\"; in training every real object was matched to exactly one "
             "query (Hungarian matching), so duplicates were punished and no non-maximum suppression (NMS) is needed. "
             "The threshold slider only hides low-scoring queries: the model does not run again.")
BOXES_NMS = ("This detector scores thousands of anchors or locations independently, so one object gets many "
             "overlapping boxes. Non-maximum suppression (NMS) keeps the best box and removes boxes of the same class "
             "that overlap it more than the IoU slider. Both sliders re-filter the saved candidates instantly.")
CROSS = ("The colours show where the selected box's object query looked in the last decoder layer: its "
         "cross-attention over the encoder's feature grid. Queries tend to look at an object's edges and corners, "
         "exactly what they need to place the box. Pick a head to see how the heads split the work.")
ENCODER = ("The colours show how strongly the encoder token at the clicked point (white cross) attends to every other "
           "place in the last encoder layer, averaged over heads. Encoder attention already groups the pixels of one "
           "object, which makes the decoder's job easier. Click a box to see its query's attention instead.")
DEFORMABLE = ("Deformable attention does not look at the whole image: each query samples a few points per feature "
              "scale around its reference box. The dots are the selected query's sampling points in the last decoder "
              "layer, bigger and brighter where its attention weight is larger.")
NO_ATTENTION = ("This detector is a convolutional network without attention maps to show. Hover a box for its "
                "details; click one to select it in the table.")
NMS_NOTE_SET = "Not needed: set predictors (DETR family) remove duplicates themselves."
NMS_NOTE_NMS = "Boxes of one class overlapping a better one by more than this IoU are removed."
