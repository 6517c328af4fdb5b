"""Label, view and instant vocabularies of CAMUS."""

from __future__ import annotations

from enum import Enum, IntEnum


class Label(IntEnum):
    """CAMUS segmentation labels (values stored in the ``_gt`` files)."""

    BG = 0
    LV = 1
    MYO = 2
    LA = 3


class View(str, Enum):
    """Apical views; the value is the token used in CAMUS file names."""

    A2C = "2CH"
    A4C = "4CH"


class Instant(str, Enum):
    """Annotated instants of the cardiac cycle; the value is the CAMUS file-name token."""

    ED = "ED"
    ES = "ES"


class Structure(str, Enum):
    """Evaluated structures: LV_Endo = LV cavity, LV_Epi = LV cavity ∪ myocardium, Myo = myocardium."""

    LV_ENDO = "lv_endo"
    LV_EPI = "lv_epi"
    MYO = "myo"


#: Label values that make up each structure.
STRUCTURE_LABELS: dict[Structure, tuple[int, ...]] = {
    Structure.LV_ENDO: (Label.LV,),
    Structure.LV_EPI: (Label.LV, Label.MYO),
    Structure.MYO: (Label.MYO,),
}

#: Output channels of every network (one logit per :class:`Label`); the one definition models import.
NUM_CLASSES = len(Label)
VIEWS: tuple[View, ...] = (View.A2C, View.A4C)
INSTANTS: tuple[Instant, ...] = (Instant.ED, Instant.ES)


def structure_mask(label_map, structure: Structure):  # numpy array or torch tensor in and out
    """Boolean mask of ``structure`` in an integer label map (numpy array or torch tensor)."""
    labels = STRUCTURE_LABELS[Structure(structure)]
    mask = label_map == labels[0]
    for value in labels[1:]:
        mask = mask | (label_map == value)
    return mask
