"""rnn_tutor: recurrent networks from scratch, for the rnn-tutor book.

Submodules, one idea each: ``cells`` (the registry of cells and one time step of each,
forward and backward), ``layers``
(unrolling over time, stacked and bidirectional networks, NumPy mirrors of torch),
``init`` (initialisers), ``gradients`` (Jacobians, gradient profiles, clipping,
gradient checks), ``tasks`` (sequence tasks and their baselines), ``models`` and
``train`` (PyTorch models and the training loop), ``showdown`` (chapter 10's
four cells on four memory tasks under one CPU budget), ``depth`` (stacked networks and
the gradient over layers and time, chapter 11), ``bidirectional`` (taggers, the
bidirectional language model that cheats, chapter 12), ``seq2seq`` (masks,
packing, encoder-decoder networks, attention, greedy and beam decoding, chapter 13),
``cliff`` (the one-unit loss wall of chapter 6), ``plots`` and ``diagrams`` (figures and structure diagrams), ``explorer`` (the
gradient explorer's numbers), ``explorer_views`` (its figures and static book sliders),
``gates`` (a trained LSTM's gates over time, chapter 8) and ``widgets`` (live ipywidgets
front ends; static sliders in the book build), ``concat`` (the tutorials'
``Linear(cat(x, h))`` RNN), ``validate`` (the input checks every public entry point uses)
and ``book_build`` (the one switch for code that runs in the book build).
"""

__version__ = "0.1.0"
__all__ = ["from_torch"]


def __getattr__(name):
    # Imported lazily so that ``import rnn_tutor`` stays fast (layers needs torch only
    # when converting a torch module).
    if name == "from_torch":
        from .layers import from_torch
        return from_torch
    raise AttributeError(f"module 'rnn_tutor' has no attribute {name!r}")
