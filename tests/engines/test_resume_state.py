"""The clustering phase is part of the trainer's checkpointed state: resumes never restart it."""

from __future__ import annotations

from ignite.engine import Events


def test_the_epoch_the_centres_were_set_is_saved_and_restored(make_trainer, clustering_handlers):
    trainer = make_trainer(max_epochs=3, handlers=clustering_handlers(warmup_epochs=1))
    trainer.run()
    saved = trainer.state_dict()
    assert saved["clustering_started_epoch"] == 2

    longer = clustering_handlers(warmup_epochs=4)  # a longer run: its warm-up would end later
    resumed = make_trainer(max_epochs=6, handlers=longer)
    resumed.load_state_dict(saved)
    resumed.state.max_epochs = 6  # as MONAI's CheckpointLoader does for a larger --epochs
    gammas = []
    resumed.add_event_handler(Events.ITERATION_COMPLETED, lambda e: gammas.append(e.loss_function.gamma))
    kmeans_runs = []
    longer[0].initialise = lambda engine: kmeans_runs.append(engine.state.epoch)
    resumed.run()
    assert kmeans_runs == [] and min(gammas) == 5.0  # no second warm-up, no second k-means


def test_a_checkpoint_without_the_key_still_resumes(make_trainer, clustering_handlers):
    resumed = make_trainer(max_epochs=2, handlers=clustering_handlers(warmup_epochs=1))
    resumed.load_state_dict({"epoch": 1, "epoch_length": 3, "max_epochs": 2})  # written before the key existed
    resumed.run()
    assert resumed.state.clustering_started_epoch == 2 and resumed.state.epoch == 2
