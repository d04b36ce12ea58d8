"""Every trainable system of brainlearn, found by its name.

:data:`MODELS` is the registry behind ``brainlearn models list``: one :class:`ModelInfo` per
system with the paper it reproduces, the module that holds it, and the commands that train
and evaluate it on the full MNIST and on the embedded subset (the subset runs in minutes on a
laptop; the tests use it). Importing this package imports no simulator: the modules named
here load only when used.

>>> from brainlearn.models import MODELS, models_table
>>> MODELS["converted-mlp"].module
'brainlearn.models.conversion'
>>> models_table()[["name", "family"]]          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["ModelInfo", "MODELS", "models_table"]


@dataclass(frozen=True)
class ModelInfo:
    """One trainable system: what it is, where it comes from, how to run it.

    Attributes
    ----------
    name : str
        Short name (``brainlearn models list`` shows it first).
    title : str
        One line: the network and how it learns.
    family : str
        ``"STDP"``, ``"ANN-to-SNN conversion"``, ``"surrogate gradient"``, ``"STDP + surrogate
        gradient"`` or ``"e-prop"``.
    citation : str
        The paper (or tutorial) reproduced, with its reference.
    module : str
        The module that holds it (``brainlearn.models.<...>``).
    commands : tuple of str
        Shell commands that train and then evaluate it on the full MNIST (or its own task).
    embedded : tuple of str
        The same on the embedded subset (no download), empty where the system has its own data.
    local_online : bool
        Whether learning is local in space and online in time.
    """

    name: str
    title: str
    family: str
    citation: str
    module: str
    commands: tuple[str, ...]
    embedded: tuple[str, ...] = ()
    local_online: bool = False


MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo(
        name="diehl-cook-2015",
        title="784 Poisson inputs -> N adaptive-threshold excitatory cells with lateral "
              "inhibition, unsupervised STDP; labels assigned by vote",
        family="STDP",
        citation="P. U. Diehl, M. Cook (2015), Unsupervised learning of digit recognition "
                 "using spike-timing-dependent plasticity, Front. Comput. Neurosci. 9:99",
        module="brainlearn.models.diehl_cook.model",
        commands=("brainlearn mnist train --neurons 400 --epochs 3 --out runs/n400",
                  "brainlearn mnist evaluate runs/n400 --readout vote,logistic,online"),
        embedded=("brainlearn mnist train --neurons 100 --examples 1000 --data embedded "
                  "--out runs/demo",
                  "brainlearn mnist evaluate runs/demo --assign-examples 1000 "
                  "--test-examples 500"),
        local_online=True,
    ),
    ModelInfo(
        name="converted-mlp",
        title="784-500-10 ReLU MLP (scikit-learn MLPClassifier), 99.9th-percentile "
              "normalisation, IF neurons with reset by subtraction in Brian2",
        family="ANN-to-SNN conversion",
        citation="B. Rueckauer et al. (2017), Conversion of continuous-valued deep networks "
                 "to efficient event-driven networks for image classification, Front. "
                 "Neurosci. 11:682; P. U. Diehl et al. (2015), Fast-classifying, "
                 "high-accuracy spiking deep networks through weight and threshold "
                 "balancing, IJCNN",
        module="brainlearn.models.conversion",
        commands=("brainlearn convert train --hidden 500 --epochs 20 --out runs/mlp500",
                  "brainlearn convert evaluate runs/mlp500 --steps 8,16,32,64,128,256"),
        embedded=("brainlearn convert train --hidden 500 --data embedded --out runs/mlp_demo",
                  "brainlearn convert evaluate runs/mlp_demo --data embedded --norm-examples 1000 "
                  "--steps 16,32,64"),
    ),
    ModelInfo(
        name="converted-cnn",
        title="MNIST CNN (conv 1->32, avg pool, conv 32->64, avg pool, fc 3136->128, fc "
              "128->10; PyTorch), 99.9th-percentile normalisation, IF neurons in Brian2 with "
              "the convolutions unrolled into Synapses",
        family="ANN-to-SNN conversion",
        citation="B. Rueckauer et al. (2017), Front. Neurosci. 11:682; P. U. Diehl et al. "
                 "(2015), IJCNN; SpikingJelly's ANN-to-SNN conversion tutorial (W. Fang et "
                 "al. 2023, Sci. Adv. 9:eadi1480)",
        module="brainlearn.models.conversion_cnn",
        commands=("brainlearn convert cnn --epochs 24 --batch-size 128 --lr 3e-3 --schedule "
                  "onecycle --shift 1 --validation 5000 --fast-steps 16,32,64 --fast-v-init 0.5 "
                  "--fast-examples 250 --brian2-examples 0 --out runs/cnn_e24_s1",
                  "brainlearn convert cnn --weights runs/cnn_e24_s1/cnn.npz --validation 5000 "
                  "--fast-steps 8,16,32,64,128 --fast-v-init 0,0.5 --fast-examples 1000 "
                  "--v-init 0.5 --steps 16,32,64 --chunk 5000 --out runs/cnn"),
        embedded=("brainlearn convert cnn --data embedded --epochs 15 --test-examples 100 "
                  "--out runs/cnn_demo",),
    ),
    ModelInfo(
        name="surrogate-mlp",
        title="784-1000-10 discrete LIF network (beta 0.95, 25 steps), BPTT with an ATan "
              "surrogate gradient (PyTorch), then the same weights in Brian2",
        family="surrogate gradient",
        citation="snnTorch tutorial 5: J. K. Eshraghian et al. (2023), Training spiking "
                 "neural networks using lessons from deep learning, Proc. IEEE 111:1016; "
                 "E. O. Neftci, H. Mostafa, F. Zenke (2019), IEEE Signal Process. Mag. 36:51",
        module="brainlearn.models.surrogate",
        commands=("brainlearn surrogate train --preset snntorch-tutorial5 --out runs/sg1000",
                  "brainlearn surrogate evaluate runs/sg1000"),
        embedded=("brainlearn surrogate train --hidden 100 --data embedded --out runs/sg_demo",
                  "brainlearn surrogate evaluate runs/sg_demo --data embedded "
                  "--device runtime"),
    ),
    ModelInfo(
        name="spikingjelly-single",
        title="784-10 SpikingJelly LIF layer without bias (tau 2, hard reset), Poisson input, "
              "rate MSE, BPTT with an ATan surrogate (PyTorch), then the same weights and "
              "input spikes in Brian2",
        family="surrogate gradient",
        citation="SpikingJelly's single-layer MNIST tutorial (lif_fc_mnist, 92.9 % after 100 "
                 "epochs): W. Fang et al. (2023), SpikingJelly: An open-source machine "
                 "learning infrastructure platform for spike-based intelligence, Sci. Adv. "
                 "9:eadi1480",
        module="brainlearn.models.surrogate",
        commands=("brainlearn surrogate train --preset spikingjelly-single --out runs/sj_single",
                  "brainlearn surrogate evaluate runs/sj_single --brian2-examples 1000"),
        embedded=("brainlearn surrogate train --preset spikingjelly-single --data embedded "
                  "--epochs 20 --out runs/sj_single_demo",
                  "brainlearn surrogate evaluate runs/sj_single_demo --data embedded"),
    ),
    ModelInfo(
        name="spikingjelly-two-layer",
        title="784-196-10 SpikingJelly LIF network without bias (tau 100, hard reset), "
              "Poisson input, rate MSE, BPTT with a sigmoid surrogate (PyTorch), then the "
              "same weights and input spikes in Brian2",
        family="surrogate gradient",
        citation="SpikingJelly's two-layer MNIST example of its README and clock-driven "
                 "tutorial (\"92 %\"): W. Fang et al. (2023), SpikingJelly: An open-source "
                 "machine learning infrastructure platform for spike-based intelligence, "
                 "Sci. Adv. 9:eadi1480",
        module="brainlearn.models.surrogate",
        commands=("brainlearn surrogate train --preset spikingjelly-two-layer --out runs/sj_two",
                  "brainlearn surrogate evaluate runs/sj_two --brian2-examples 1000"),
        embedded=("brainlearn surrogate train --preset spikingjelly-two-layer --data embedded "
                  "--epochs 20 --out runs/sj_two_demo",
                  "brainlearn surrogate evaluate runs/sj_two_demo --data embedded"),
    ),
    ModelInfo(
        name="eprop-readout",
        title="softmax readout of a finished Diehl & Cook network, trained online with "
              "e-prop (one update per image) in Brian2",
        family="e-prop",
        citation="G. Bellec et al. (2020), A solution to the learning dilemma for recurrent "
                 "networks of spiking neurons, Nat. Commun. 11:3625",
        module="brainlearn.models.eprop_readout",
        commands=("brainlearn mnist train --neurons 400 --epochs 3 --out runs/n400",
                  "brainlearn mnist evaluate runs/n400",
                  "brainlearn eprop mnist-readout runs/n400"),
        embedded=("brainlearn mnist train --neurons 100 --examples 1000 --data embedded "
                  "--out runs/demo",
                  "brainlearn mnist evaluate runs/demo --assign-examples 1000 "
                  "--test-examples 500",
                  "brainlearn eprop mnist-readout runs/demo"),
        local_online=True,
    ),
    ModelInfo(
        name="stdp-bp-hybrid",
        title="the excitatory layer of a finished Diehl & Cook network (STDP, frozen) -> 10 "
              "discrete LIF output neurons trained by BPTT with an ATan surrogate gradient "
              "on its recorded spike trains (PyTorch), then the output layer in Brian2",
        family="STDP + surrogate gradient",
        citation="P. U. Diehl, M. Cook (2015), Front. Comput. Neurosci. 9:99 (the STDP "
                 "layer); E. O. Neftci, H. Mostafa, F. Zenke (2019), Surrogate gradient "
                 "learning in spiking neural networks, IEEE Signal Process. Mag. 36:51; "
                 "C. Lee, P. Panda, G. Srinivasan, K. Roy (2018), Training deep spiking "
                 "convolutional neural networks with STDP-based unsupervised pre-training "
                 "followed by supervised fine-tuning, Front. Neurosci. 12:435",
        module="brainlearn.models.hybrid",
        commands=("brainlearn mnist train --neurons 100 --params sized --out runs/n100",
                  "brainlearn mnist evaluate runs/n100",
                  "brainlearn hybrid train runs/n100",
                  "brainlearn hybrid evaluate runs/n100 --codegen cython"),
        embedded=("brainlearn mnist train --neurons 100 --examples 1000 --data embedded "
                  "--out runs/demo",
                  "brainlearn mnist evaluate runs/demo --assign-examples 1000 "
                  "--test-examples 500",
                  "brainlearn hybrid train runs/demo --epochs 20",
                  "brainlearn hybrid evaluate runs/demo"),
    ),
    ModelInfo(
        name="eprop-rsnn",
        title="recurrent LIF/ALIF network trained online with e-prop on the paper's tasks "
              "(sine-wave regression, evidence accumulation), in Brian2",
        family="e-prop",
        citation="G. Bellec et al. (2020), A solution to the learning dilemma for recurrent "
                 "networks of spiking neurons, Nat. Commun. 11:3625",
        module="brainlearn.models.eprop",
        commands=("brainlearn eprop train --task evidence-accumulation --out runs/eprop_ea",),
        local_online=True,
    ),
)}


def models_table() -> pd.DataFrame:
    """The registry as a table: ``name, family, title, citation, module, commands, embedded``.

    Commands of one model are joined by ``" && "`` (train, then evaluate).
    """
    return pd.DataFrame([{
        "name": m.name, "family": m.family, "title": m.title, "citation": m.citation,
        "module": m.module, "local_online": m.local_online,
        "commands": " && ".join(m.commands), "embedded": " && ".join(m.embedded),
    } for m in MODELS.values()])
