// brainlearn's spike queue for Brian2's cpp_standalone device: Brian2's CSpikeQueue
// (brian2/synapses/cspikequeue.cpp, same interface and the same queue contents, element by
// element) with a faster push.
//
// Brian2's push appends every synapse of a spiking source cell to the bucket of its delay one
// at a time, with an integer modulo per synapse. Here ``prepare`` splits each source cell's
// synapse list into runs of consecutive synapse indices with one delay (synapses in index
// order, as Brian2 keeps them), and ``push`` appends each run to its bucket as two numbers,
// its first synapse index and where it ends in the bucket (``peek_runs``, ``peek_firsts``),
// without copying the run's indices. The indices of a bucket are written out only when asked
// for (``peek``: Brian2's synapses template, the OpenMP path of brainlearn's, the state
// saved by ``_full_state``), in the order they were pushed: the same indices in the same
// order as with Brian2's queue, so results are bit-identical. With the synapses of a cell
// stored by delay (brainlearn.models.diehl_cook.model.synapse_order), a spike costs one run
// per distinct delay instead of one index per synapse (at N=6400, 21 runs instead of 6,400
// indices).
//
// Under a scalar delay a cell's whole synapse list is one segment, a run only if its indices
// are consecutive; a bucket holding a segment that is not a run has no runs to walk
// (``peek_runs`` gives NULL) and is written out, one copy per segment, as the push copied it
// before. brainlearn's synapses template (brainlearn/cpp/templates/synapses.cpp) walks the
// runs on one thread. The synapses of a bucket moved to a new dt or restored from a stored state
// count as runs of one synapse each, so the runs still describe every bucket.
//
// One file for Brian2 2.8 to 2.11. Brian2 2.8 and 2.9 compile the queue as a header only
// (cspikequeue.cpp copied to brianlib/spikequeue.h); 2.10 and later split it into
// brianlib/spikequeue.h and brianlib/spikequeue.cpp, whose stream operators call the const
// ``_full_state()`` and are declared here: the include guard, ``const`` and the two
// declarations are what 2.10+ needs, and are inert under 2.8 and 2.9 (nothing there uses the
// operators, so their declarations need no definition).
#ifndef C_SPIKEQUEUE_H
#define C_SPIKEQUEUE_H
#include<iostream>
#include<utility>
#include<vector>
#include<map>
#include<iterator>
#include<algorithm>
#include"stdint_compat.h"
#include<assert.h>
using namespace std;

class CSpikeQueue
{
public:
    // queue[(offset+i)%queue.size()] is delay i relative to current time: the indices of its
    // first queue_done[slot] runs (the rest are written out by peek)
    vector< vector<int32_t> > queue;
    // queue_runs[slot]: where each run appended to that bucket ends (its position after the
    // run's last synapse); queue_firsts[slot]: the run's first synapse index
    vector< vector<int32_t> > queue_runs;
    vector< vector<int32_t> > queue_firsts;
    // queue_src[slot]: where the run's indices lie in ``synapses`` (to write them out; valid
    // until the next ``prepare``, which writes out every bucket first)
    vector< vector<const int32_t*> > queue_src;
    vector<size_t> queue_done;
    // queue_gaps[slot]: segments in that bucket that are not runs of consecutive indices (a
    // scalar-delay cell's synapses with gaps; written out whole, ``peek_runs`` gives NULL)
    vector<size_t> queue_gaps;
    double dt;
    int offset;
    bool scalar_delay;
    int *delays;
    int n_delays;
    int32_t source_start;
    int32_t source_end;
    int openmp_padding;
    vector< vector<int> > synapses;
    // per source cell: runs of consecutive entries of synapses[cell] with one delay
    vector< vector<int> > run_delay;
    vector< vector<int> > run_start;
    // per source cell (scalar delay): 1 where its one segment is not a run of consecutive indices
    vector<char> cell_gapped;
    // whether the targets of every run strictly increase (``runs_increase``; -1: not known
    // since the last ``prepare``)
    int increasing;

    CSpikeQueue(int _source_start, int _source_end)
        : source_start(_source_start), source_end(_source_end)
    {
        queue.resize(1);
        queue_runs.resize(1);
        queue_firsts.resize(1);
        queue_src.resize(1);
        queue_done.resize(1);
        queue_gaps.resize(1);
        offset = 0;
        dt = 0.0;
        delays = NULL;
        n_delays = 0;
        openmp_padding = 0;
        scalar_delay = 0;
        increasing = -1;
    };

    ~CSpikeQueue()
    {
        if (delays)
        {
            delete[] delays;
            delays = NULL;
        }
    }

    template <typename scalar> void prepare(scalar *real_delays, int n_delays,
                 int32_t *sources, int n_synapses,
                 double _dt)
    {
        assert(n_delays == 1 || n_delays == n_synapses);

        if (delays)
            delete [] delays;

        // the runs of the buckets point into ``synapses``, which is rebuilt below
        for (size_t i=0; i<queue.size(); i++)
            write_out(i);

        if (dt != 0.0 && dt != _dt)
        {
            vector< vector<int32_t> > queue_copy = queue;
            const double conversion_factor = dt / _dt;
            const size_t oldsize = queue.size();
            const size_t newsize = (int)(oldsize * conversion_factor) + 1;
            queue.clear();
            queue.resize(newsize);
            for (size_t i=0; i<oldsize; i++)
            {
                vector<int32_t> spikes = queue_copy[(i + offset) % oldsize];
                queue[(int)(i * conversion_factor + 0.5)] = spikes;
            }
            offset = 0;
            runs_of_one();  // moved buckets: their runs are not known
        }

        delays = new int[n_delays];
        this->n_delays = n_delays;
        synapses.clear();
        synapses.resize(source_end - source_start);

        scalar first_delay = n_delays > 0 ? real_delays[0] : 0.0;
        int min_delay = (int)(first_delay / _dt + 0.5);
        int max_delay = min_delay;
        for (int i=0; i<n_delays; i++)
        {
            delays[i] =  (int)(real_delays[i] / _dt + 0.5);
            if (delays[i] > max_delay)
                max_delay = delays[i];
            else if (delays[i] < min_delay)
                min_delay = delays[i];
        }
        {
            // each cell's synapse indices, in index order (counted first: one allocation each)
            vector<int> count(synapses.size(), 0);
            for (int i=0; i<n_synapses; i++)
                count[sources[i] - source_start]++;
            for (size_t cell=0; cell<synapses.size(); cell++)
                synapses[cell].resize(count[cell]);
            fill(count.begin(), count.end(), 0);
            for (int i=0; i<n_synapses; i++)
            {
                const int cell = sources[i] - source_start;
                synapses[cell][count[cell]++] = i + openmp_padding;
            }
        }

        dt = _dt;
        increasing = -1;

        ensure_delay(max_delay);

        scalar_delay = (min_delay == max_delay);

        run_delay.clear();
        run_start.clear();
        run_delay.resize(synapses.size());
        run_start.resize(synapses.size());
        cell_gapped.assign(synapses.size(), 0);
        const int * rdelays = delays - openmp_padding;
        for (size_t cell=0; cell<synapses.size(); cell++)
        {
            const vector<int> &indices = synapses[cell];
            if (scalar_delay)
            {
                // one segment per cell: a run if its indices are consecutive (they increase)
                if (indices.empty())
                    continue;
                run_delay[cell].push_back(delays[0]);
                run_start[cell].push_back(0);
                run_start[cell].push_back((int)indices.size());
                cell_gapped[cell] = (indices.back() - indices[0] != (int)indices.size() - 1);
                continue;
            }
            for (size_t k=0; k<indices.size(); k++)
            {
                const int delay = rdelays[indices[k]];
                if (k == 0 || delay != run_delay[cell].back()
                    || indices[k] != indices[k - 1] + 1)
                {
                    run_delay[cell].push_back(delay);
                    run_start[cell].push_back((int)k);
                }
            }
            run_start[cell].push_back((int)indices.size());
        }
    }

    // Whether the target cells (``targets``, by synapse index) of every run strictly
    // increase, so that no two synapses of a run share a target: then a loop over a run may
    // update the targets' variables in any order (brainlearn's synapses template vectorises
    // it). Found once per ``prepare`` (the synapses cannot change within a run). Runs of one
    // synapse (moved or restored buckets) increase trivially.
    bool runs_increase(const int32_t *targets)
    {
        if (increasing < 0)
        {
            increasing = 1;
            for (size_t cell=0; cell<synapses.size() && increasing; cell++)
            {
                const vector<int> &indices = synapses[cell];
                const vector<int> &starts = run_start[cell];
                for (size_t r=0; r+1<starts.size() && increasing; r++)
                    for (int k=starts[r]+1; k<starts[r+1]; k++)
                        if (targets[indices[k] - openmp_padding]
                            <= targets[indices[k - 1] - openmp_padding])
                        {
                            increasing = 0;
                            break;
                        }
            }
        }
        return increasing == 1;
    }

    // the indices of a bucket's runs, from ``from_run`` on, appended to ``out``
    static void runs_to_indices(const vector<const int32_t*> &src, const vector<int32_t> &ends,
                                size_t from_run, vector<int32_t> &out)
    {
        for (size_t r=from_run; r<ends.size(); r++)
            out.insert(out.end(), src[r], src[r] + (ends[r] - (r ? ends[r - 1] : 0)));
    }

    // write out the indices of a bucket's runs not written out yet
    void write_out(size_t slot)
    {
        runs_to_indices(queue_src[slot], queue_runs[slot], queue_done[slot], queue[slot]);
        queue_done[slot] = queue_runs[slot].size();
    }

    pair <int, vector< vector<int32_t> > > _full_state() const
    {
        pair <int, vector< vector<int32_t> > > state(offset, queue);
        for (size_t i=0; i<queue.size(); i++)
            runs_to_indices(queue_src[i], queue_runs[i], queue_done[i], state.second[i]);
        return state;
    }

    void _clear()
    {
    }

    void _restore_from_full_state(const pair <int, vector< vector<int32_t> > > state)
    {
        int stored_offset = state.first;
        vector< vector<int32_t> > stored_queue = state.second;
        size_t size = stored_queue.size();
        queue.clear();
        if (size == 0)
            size = 1;
        queue.resize(size);
        for (size_t i=0; i<stored_queue.size(); i++)
            queue[i] = stored_queue[i];
        runs_of_one();  // restored buckets: their runs are not known
        offset = stored_offset;
    }

    // Every synapse already in a bucket counts as a run of its own, so the recorded runs
    // still tile the bucket when later spikes append theirs: a bucket filled without its
    // runs being recorded (moved to a new dt, restored) is walked synapse by synapse.
    void runs_of_one()
    {
        queue_runs.clear();
        queue_runs.resize(queue.size());
        queue_firsts.assign(queue.begin(), queue.end());
        queue_src.clear();
        queue_src.resize(queue.size());
        queue_done.assign(queue.size(), 0);
        queue_gaps.assign(queue.size(), 0);
        for (size_t i=0; i<queue.size(); i++)
        {
            for (size_t k=1; k<=queue[i].size(); k++)
                queue_runs[i].push_back((int32_t)k);
            queue_src[i].assign(queue[i].size(), (const int32_t*)0);  // written out already
            queue_done[i] = queue[i].size();
        }
    }

    void expand(size_t newsize)
    {
        const size_t n = queue.size();
        if (newsize <= n)
            return;
        rotate(queue.begin(), queue.begin()+offset, queue.end());
        rotate(queue_runs.begin(), queue_runs.begin()+offset, queue_runs.end());
        rotate(queue_firsts.begin(), queue_firsts.begin()+offset, queue_firsts.end());
        rotate(queue_src.begin(), queue_src.begin()+offset, queue_src.end());
        rotate(queue_done.begin(), queue_done.begin()+offset, queue_done.end());
        rotate(queue_gaps.begin(), queue_gaps.begin()+offset, queue_gaps.end());
        offset = 0;
        queue.resize(newsize);
        queue_runs.resize(newsize);
        queue_firsts.resize(newsize);
        queue_src.resize(newsize);
        queue_done.resize(newsize, 0);
        queue_gaps.resize(newsize, 0);
    };

    inline void ensure_delay(int delay)
    {
        if(delay >= (int)queue.size())
        {
            expand(delay+1);
        }
    };

    void push(int32_t *spikes, int nspikes)
    {
        if(nspikes==0) return;
        const int start = static_cast<int>(distance(spikes, lower_bound(spikes, spikes+nspikes, source_start)));
        const int stop = static_cast<int>(distance(spikes, upper_bound(spikes, spikes+nspikes, source_end-1)));
        const int32_t * __restrict rspikes = spikes;
        const int n_queue = (int)queue.size();
        for(int idx_spike=start; idx_spike<stop; idx_spike++)
        {
            const int idx_neuron = rspikes[idx_spike] - source_start;
            const vector<int> &cur = synapses[idx_neuron];
            const vector<int> &rdelay = run_delay[idx_neuron];
            const vector<int> &rstart = run_start[idx_neuron];
            const int n_runs = (int)rdelay.size();
            const char gapped = cell_gapped[idx_neuron];
            for(int r=0; r<n_runs; r++)
            {
                int slot = offset + rdelay[r];
                if (slot >= n_queue)
                    slot -= n_queue;
                vector<int32_t> &ends = queue_runs[slot];
                const int32_t end = ends.empty() ? 0 : ends.back();
                ends.push_back(end + (rstart[r+1] - rstart[r]));
                queue_firsts[slot].push_back(cur[rstart[r]]);
                queue_src[slot].push_back(&cur[rstart[r]]);
                queue_gaps[slot] += gapped;
            }
        }
    };

    inline vector<int32_t>* peek()
    {
        if (queue_done[offset] < queue_runs[offset].size())
            write_out(offset);
        return &queue[offset];
    };

    // where the current bucket's runs end, and their first synapse indices (see the top of
    // this file)
    inline const vector<int32_t>* peek_runs() const
    {
        return queue_gaps[offset] ? 0 : &queue_runs[offset];
    };

    inline const vector<int32_t>* peek_firsts() const
    {
        return &queue_firsts[offset];
    };

    void advance()
    {
        queue[offset].clear();
        queue_runs[offset].clear();
        queue_firsts[offset].clear();
        queue_src[offset].clear();
        queue_done[offset] = 0;
        queue_gaps[offset] = 0;
        offset = (offset+1)%queue.size();
    };
};

// defined in brianlib/spikequeue.cpp by Brian2 >= 2.10 (store/restore of the queue)
extern ostream& operator<<(ostream& os, const CSpikeQueue& queue);
extern istream& operator>>(istream& is, CSpikeQueue& queue);
#endif
