{#
brainlearn's template for the event code of a synaptic pathway under cpp_standalone
(brainlearn.cppcode.FastCodeObject). Brian2's template (synapses.cpp) runs the pathway's
code once per synapse index in the spike queue's bucket, after copying the bucket.

On one thread, this one walks the bucket in the runs that brainlearn's spike queue
(brainlearn/cpp/spikequeue.h) recorded while filling it, each as its first synapse index and
its end in the bucket, without the bucket's indices (the queue writes them out only when
asked, by ``peek``): a run is a block of consecutive synapse indices (with synapses stored by
source cell, then delay, then target, as the Diehl & Cook input synapses are, one spike's
synapses of one delay), so the loop over it indexes the synaptic arrays with its counter.
Runs are walked in the bucket's order and each run in index order: the same synapses in the
same order as Brian2's loop, hence the same bits. A bucket whose mean run is shorter than
BRAINLEARN_MIN_RUN synapses (a compiler macro, default 8; Diehl & Cook's N=400 has runs of
about 19, walked as runs: 43.1 M instructions per image against 46.9 M synapse by synapse,
callgrind), a bucket with a segment that is not a run, or a queue without runs (Brian2's
own), is walked synapse by synapse over the bucket's indices.

With ``brainlearn_vector_runs`` (brainlearn.cppcode.VectorRunsCodeObject), a run of at least
BRAINLEARN_MIN_VECTOR_RUN synapses (default 32) is walked by a loop marked ``ivdep``, which the
compiler vectorises, when the queue found that the targets of each of its runs strictly
increase (``runs_increase``): no two synapses of a run share a target, so each target receives
its one event of the run through the same operations in any order, and the numbers stay
Brian2's.

With OpenMP threads it walks the bucket in runs of consecutive synapse indices whose
post-synaptic cells strictly increase, found by comparing neighbours, and each thread takes
the synapses whose target lies in its share of the target cells (a binary search per run):
every target still receives its synapses' effects in the bucket's order, so results are
bit-identical to Brian2's template for any number of threads. Pathways whose code writes
pre-synaptic or other non-synaptic, non-target variables, and post pathways, run Brian2's own
code (the else branch, Brian2 2.9's synapses.cpp).
#}
{% extends 'common_synapses.cpp' %}

{% set _other = [] %}
{% for var in variables %}
    {% if variable_indices[var] not in ('_idx', '0', '_postsynaptic_idx') %}
        {% if _other.append(1) %}{% endif %}
    {% endif %}
{% endfor %}
{% set _non_synaptic = [] %}
{% for var in variables %}
    {% if variable_indices[var] not in ('_idx', '0') %}
        {% if _non_synaptic.append(1) %}{% endif %}
    {% endif %}
{% endfor %}

{% block extra_headers %}
{{ super() }}
#ifndef BRAINLEARN_QUEUE_RUNS
#define BRAINLEARN_QUEUE_RUNS
// the current bucket's runs when the queue records them (brainlearn's spikequeue.h): where
// each ends in the bucket and its first synapse index; NULL with Brian2's own queue
template <class Q> static inline auto _brainlearn_runs(Q &q, int) -> decltype(q.peek_firsts(), q.peek_runs())
{ return q.peek_runs(); }
template <class Q> static inline const std::vector<int32_t> *_brainlearn_runs(Q &, long)
{ return 0; }
template <class Q> static inline auto _brainlearn_firsts(Q &q, int) -> decltype(q.peek_firsts())
{ return q.peek_firsts(); }
template <class Q> static inline const std::vector<int32_t> *_brainlearn_firsts(Q &, long)
{ return 0; }
#endif
#ifndef BRAINLEARN_IS_ZERO
#define BRAINLEARN_IS_ZERO
#include <cstring>
// whether x is +0.0, tested on its bits (brainlearn.cppcode.skip_idle_updates)
static inline bool _brainlearn_is_zero(const double x)
{ uint64_t b; std::memcpy(&b, &x, sizeof b); return b == 0; }
#endif
#ifndef BRAINLEARN_MIN_RUN
// shortest mean run for which a bucket is walked by runs (shorter: synapse by synapse)
#define BRAINLEARN_MIN_RUN 8
#endif
#ifndef BRAINLEARN_RUNS_INCREASE
#define BRAINLEARN_RUNS_INCREASE
// whether the target cells of every run of the queue strictly increase (brainlearn's
// spikequeue.h; false with Brian2's own queue)
template <class Q> static inline auto _brainlearn_runs_increase(Q &q, const int32_t *targets, int)
    -> decltype(q.runs_increase(targets))
{ return q.runs_increase(targets); }
template <class Q> static inline bool _brainlearn_runs_increase(Q &, const int32_t *, long)
{ return false; }
#endif
#ifndef BRAINLEARN_MIN_VECTOR_RUN
// shortest run walked by the loop the compiler vectorises (brainlearn_vector_runs)
#define BRAINLEARN_MIN_VECTOR_RUN 32
#endif
{% endblock %}

{% block maincode %}

    // This is only needed for the _debugmsg function below
    {# USES_VARIABLES { _synaptic_pre, _synaptic_post, N_post } #}

    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    {% if pathway.prepost == 'pre' and not _other and prefs.devices.cpp_standalone.openmp_threads == 0 %}
    {# the event code of one synapse: with brainlearn_skip_idle, the update made conditional #}
    {% if brainlearn_skip_idle is defined %}
    {% set _event_code = brainlearn_skip_idle(vector_code) %}
    {% else %}
    {% set _event_code = vector_code %}
    {% endif %}
    {
    // brainlearn: runs of consecutive synapses, as the spike queue recorded them
    CSpikeQueue &_queue = *{{pathway.name}}.queue[0];
    const std::vector<int32_t> *_runs = _brainlearn_runs(_queue, 0);
    const std::vector<int32_t> *_firsts = _brainlearn_firsts(_queue, 0);
    const int _n_runs = _runs ? _runs->size() : 0;
    if (_n_runs && (*_runs)[_n_runs - 1] >= (int64_t)BRAINLEARN_MIN_RUN * _n_runs)
    {
        const int32_t * __restrict _ends = &(*_runs)[0];
        const int32_t * __restrict _first = &(*_firsts)[0];
        {% if brainlearn_vector_runs is defined %}
        // no two synapses of a run share a target (checked once per preparation of the
        // queue): the compiler may vectorise the loop over a long run
        const bool _vector = _brainlearn_runs_increase(_queue, {{_synaptic_post}}, 0);
        {% endif %}
        int _s = 0;
        for (int _r = 0; _r < _n_runs; _r++)
        {
            const int _e = _ends[_r];
            const size_t _start = _first[_r];
            const size_t _stop = _start + (_e - _s);
            _s = _e;
            {% if brainlearn_vector_runs is defined %}
            if (_vector && _stop - _start >= BRAINLEARN_MIN_VECTOR_RUN)
            {
                #pragma GCC ivdep
                for (size_t _idx = _start; _idx < _stop; _idx++)
                {
                    const size_t _vectorisation_idx = _idx;
                    {{_event_code|autoindent}}
                }
                continue;
            }
            {% endif %}
            {% if brainlearn_unroll is defined %}
            #pragma GCC unroll {{ brainlearn_unroll }}
            {% endif %}
            for (size_t _idx = _start; _idx < _stop; _idx++)
            {
                const size_t _vectorisation_idx = _idx;
                {{_event_code|autoindent}}
            }
        }
    }
    else
    {
        const std::vector<int32_t> &_spiking_synapses = *_queue.peek();
        const int _num_spiking_synapses = _spiking_synapses.size();
        const int32_t * __restrict _bucket = _num_spiking_synapses ? &_spiking_synapses[0] : 0;
        for (int _k = 0; _k < _num_spiking_synapses; _k++)
        {
            const size_t _idx = _bucket[_k];
            const size_t _vectorisation_idx = _idx;
            {{_event_code|autoindent}}
        }
    }
    }
    {% elif pathway.prepost == 'pre' and not _other %}
    {
    // brainlearn: runs of consecutive synapses with strictly increasing targets
    std::vector<int32_t> *_spiking_synapses = {{pathway.name}}.peek();
    const int _num_spiking_synapses = _spiking_synapses->size();
    const int32_t * __restrict _bucket = _num_spiking_synapses ? &(*_spiking_synapses)[0] : 0;
    const int32_t * __restrict _targets = {{_synaptic_post}};
    {{ openmp_pragma('parallel') }}
    {
        {% if prefs.devices.cpp_standalone.openmp_threads > 0 %}
        const int _n_threads = omp_get_num_threads();
        const int _thread = omp_get_thread_num();
        const int32_t _n_targets = {{constant_or_scalar('N_post', variables['N_post'])}};
        const int32_t _lo = (int32_t)(((int64_t)_n_targets * _thread) / _n_threads);
        const int32_t _hi = (int32_t)(((int64_t)_n_targets * (_thread + 1)) / _n_threads);
        {% endif %}
        int _s = 0;
        while (_s < _num_spiking_synapses)
        {
            const int32_t _first = _bucket[_s];
            int _e = _s + 1;
            while (_e < _num_spiking_synapses && _bucket[_e] == _first + (_e - _s)
                   && _targets[_first + (_e - _s)] > _targets[_first + (_e - _s) - 1])
                _e++;
            size_t _start = _first;
            size_t _stop = _first + (_e - _s);
            {% if prefs.devices.cpp_standalone.openmp_threads > 0 %}
            _start = std::lower_bound(_targets + _start, _targets + _stop, _lo) - _targets;
            _stop = std::lower_bound(_targets + _start, _targets + _stop, _hi) - _targets;
            {% endif %}
            _s = _e;
            #pragma GCC ivdep
            for (size_t _idx = _start; _idx < _stop; _idx++)
            {
                const size_t _vectorisation_idx = _idx;
                {{vector_code|autoindent}}
            }
        }
    }
    }
    {% else %}
    {{ openmp_pragma('parallel') }}
    {
    std::vector<int> *_spiking_synapses = {{pathway.name}}.peek();
    const int _num_spiking_synapses = _spiking_synapses->size();

    {% if _non_synaptic %}
    {{ openmp_pragma('master') }}
    {
        for(int _spiking_synapse_idx=0;
            _spiking_synapse_idx<_num_spiking_synapses;
            _spiking_synapse_idx++)
        {
            const size_t _idx = (*_spiking_synapses)[_spiking_synapse_idx];
            const size_t _vectorisation_idx = _idx;
            {{vector_code|autoindent}}
        }
    }
    {% else %}
    {{ openmp_pragma('static') }}
    for(int _spiking_synapse_idx=0;
        _spiking_synapse_idx<_num_spiking_synapses;
        _spiking_synapse_idx++)
    {
        const size_t _idx = (*_spiking_synapses)[_spiking_synapse_idx];
        const size_t _vectorisation_idx = _idx;
        {{vector_code|autoindent}}
    }

    {% endif %}
    }
    {% endif %}
{% endblock %}


{% block extra_functions_cpp %}
void _debugmsg_{{codeobj_name}}()
{
    using namespace brian;
    std::cout << "Number of synapses: " << {{_dynamic__synaptic_pre}}.size() << endl;
}
{% endblock %}

{% block extra_functions_h %}
void _debugmsg_{{codeobj_name}}();
{% endblock %}

{% macro main_finalise() -%}
#ifdef DEBUG
_debugmsg_{{codeobj_name}}();
#endif
{% endmacro %}
