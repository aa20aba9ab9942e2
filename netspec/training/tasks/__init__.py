"""Training tasks, one module per task: `classify`, `regress`, `gan`, `skipgram` and `cbow`
(word2vec). Each is one entry in TASKS (see `base` for the interface the loop calls)."""

from netspec.training.tasks import classify, cyclegan, gan, regress, word2vec
from netspec.training.tasks.base import TASKS, Task, pick_task

# importing a module registers the task it defines
BUILTIN = (classify, regress, gan, cyclegan, word2vec)
